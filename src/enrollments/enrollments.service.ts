import { Inject, Injectable } from '@nestjs/common';
import { CheckinError, CheckinErrorCode } from '../checkin/checkin.errors.js';
import type { ResolvedEnrollment } from '../checkin/enrollment-id.js';
import { WriteGuardUnmet } from '../checkin/checkin.types.js';
import type { WriteGuard } from '../checkin/checkin.types.js';
import { SecretBox } from '../common/secret-box.js';
import { APP_CONFIG, PUSH_TOPIC_PREFIX } from '../config/config.js';
import type { AppConfig } from '../config/config.js';
import { DatabaseService, isForeignKeyViolation } from '../database/database.service.js';
import type { SqlRunner } from '../database/database.service.js';
import { EnrollmentsRepository } from './enrollments.repository.js';
import type { DeviceFacts, EnrollmentState, UserFacts } from './enrollments.repository.js';

export interface TokenUpdateInput {
  topic: string;
  token: Buffer;
  pushMagic: string;
  unlockToken: Buffer | undefined;
  awaitingConfiguration: boolean;
  /** User channels: who the user is. */
  userLongName?: string | undefined;
  notOnConsole?: boolean | undefined;
}

export interface TokenUpdateOutcome {
  /** 1 for the first TokenUpdate after (re-)enrollment: the moment pushes may start. */
  tokenUpdateCount: number;
  unlockTokenStored: boolean;
  /** An UnlockToken sent on a user channel, which is never stored. */
  unlockTokenIgnored: boolean;
}

/** The first step's answer (declined, challenged, allowed) or the second's (accepted, rejected, declined). */
export type UserAuthenticateState = 'declined' | 'challenged' | 'allowed' | 'accepted' | 'rejected';

/** The challenge a DigestResponse answers, or why there is none to answer. */
export type PendingChallenge = { readonly challenge: string } | { readonly missing: 'none' | 'expired' };

/** The user record of a user-channel enrollment, from the resolved ids. */
export function userFacts(enrollment: ResolvedEnrollment, longName?: string): UserFacts {
  return {
    id: enrollment.id,
    deviceId: enrollment.deviceId,
    type: enrollment.type,
    userId: enrollment.userId ?? null,
    shortName: enrollment.userShortName ?? null,
    longName: longName ?? null,
  };
}

/** Where each sealed secret lives; the AAD ties a ciphertext to its row and column. */
export const unlockTokenAad = (deviceId: string): string => `devices.unlock_token:${deviceId}`;
export const bootstrapTokenAad = (deviceId: string): string => `devices.bootstrap_token:${deviceId}`;

/**
 * The rules of the device channel's enrollment record (DESIGN.md, "Protocol rules").
 * Every method runs its writes in one transaction, after all checks that need no database.
 */
@Injectable()
export class EnrollmentsService {
  constructor(
    @Inject(DatabaseService) private readonly db: DatabaseService,
    @Inject(EnrollmentsRepository) private readonly repo: EnrollmentsRepository,
    @Inject(SecretBox) private readonly secrets: SecretBox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Topic must start with `com.apple.mgmt.` and, when `PUSH_TOPICS` is set, be one of them. */
  checkTopic(topic: string): void {
    if (!topic.startsWith(PUSH_TOPIC_PREFIX) || topic.length === PUSH_TOPIC_PREFIX.length) {
      throw new CheckinError(CheckinErrorCode.TopicNotAllowed, `Topic must start with ${PUSH_TOPIC_PREFIX}`);
    }
    if (this.config.pushTopics.length > 0 && !this.config.pushTopics.includes(topic)) {
      throw new CheckinError(CheckinErrorCode.TopicNotAllowed, `Topic ${topic} is not a push topic of this server`);
    }
  }

  /** Whether the enrollment is known, enabled, and how many TokenUpdates it has had. */
  enrollmentState(enrollmentId: string): Promise<EnrollmentState | undefined> {
    return this.repo.enrollmentState(this.db, enrollmentId);
  }

  async deviceExists(deviceId: string): Promise<boolean> {
    return this.repo.deviceExists(this.db, deviceId);
  }

  /** The device's stored serial number: undefined when the device is unknown, null when none was sent. */
  async deviceSerialNumber(deviceId: string): Promise<string | null | undefined> {
    return this.repo.deviceSerialNumber(this.db, deviceId);
  }

  /**
   * Authenticate: create the device, or re-enroll it (enrollments disabled and counts reset
   * until the next TokenUpdate; escrowed secrets kept). Returns whether it was known before.
   */
  async authenticate(
    deviceId: string,
    facts: DeviceFacts,
    rawMessage: Buffer,
    now: Date,
  ): Promise<{ reenrollment: boolean }> {
    return this.db.transaction(async (tx) => {
      const reenrollment = await this.repo.upsertAuthenticatedDevice(tx, deviceId, facts, rawMessage, now);
      if (reenrollment) await this.repo.disableAllForReenrollment(tx, deviceId, now);
      return { reenrollment };
    });
  }

  /**
   * TokenUpdate on any channel. A user channel needs its device channel enrolled and enabled,
   * keeps its own push credentials and count, never stores an UnlockToken (the device's is
   * left alone), and creates or refreshes its user record.
   */
  async tokenUpdate(
    enrollment: ResolvedEnrollment,
    input: TokenUpdateInput,
    now: Date,
    guard?: WriteGuard,
  ): Promise<TokenUpdateOutcome> {
    const userChannel = enrollment.channel === 'user';
    const hasUnlock = input.unlockToken !== undefined && input.unlockToken.length > 0;
    const sealedUnlock =
      hasUnlock && !userChannel && input.unlockToken !== undefined
        ? this.secrets.seal(input.unlockToken, unlockTokenAad(enrollment.deviceId))
        : undefined;
    const upsert = {
      id: enrollment.id,
      deviceId: enrollment.deviceId,
      parentId: enrollment.parentId,
      type: enrollment.type,
      topic: input.topic,
      pushMagic: input.pushMagic,
      token: input.token,
      awaitingConfiguration: input.awaitingConfiguration,
    };
    try {
      if (!userChannel && sealedUnlock === undefined) {
        // The common case is one statement: atomic on its own, no explicit transaction, and
        // with the guard (the certificate binding) in its WHERE: one round trip in all.
        const tokenUpdateCount =
          guard === undefined
            ? await this.repo.upsertFromTokenUpdate(this.db, upsert, now)
            : await this.repo.upsertFromTokenUpdateIf(this.db, upsert, now, guard);
        if (tokenUpdateCount === undefined) throw new WriteGuardUnmet();
        return { tokenUpdateCount, unlockTokenStored: false, unlockTokenIgnored: false };
      }
      return await this.db.transaction(async (tx) => {
        if (guard !== undefined && !(await this.repo.holds(tx, guard))) throw new WriteGuardUnmet();
        if (userChannel) await this.requireEnrolledParent(tx, enrollment);
        const tokenUpdateCount = await this.repo.upsertFromTokenUpdate(tx, upsert, now);
        if (sealedUnlock !== undefined) await this.repo.setUnlockToken(tx, enrollment.deviceId, sealedUnlock, now);
        if (userChannel) {
          await this.repo.upsertUserFromTokenUpdate(
            tx,
            userFacts(enrollment, input.userLongName),
            input.notOnConsole ?? null,
            now,
          );
        }
        return {
          tokenUpdateCount,
          unlockTokenStored: sealedUnlock !== undefined,
          unlockTokenIgnored: userChannel && hasUnlock,
        };
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw unknownDevice(enrollment.deviceId);
      throw err;
    }
  }

  /** CheckOut: disable the enrollment (and, on the device channel, its user channels); keep the records. */
  async checkOut(enrollment: ResolvedEnrollment, now: Date): Promise<{ disabled: number }> {
    return this.db.transaction(async (tx) => {
      const disabled = await this.repo.disable(tx, enrollment.id, enrollment.channel === 'device', now);
      if (disabled === 0 && !(await this.repo.deviceExists(tx, enrollment.deviceId))) {
        throw new CheckinError(CheckinErrorCode.UnknownEnrollment, `enrollment ${enrollment.id} is not known`);
      }
      return { disabled };
    });
  }

  /**
   * SetBootstrapToken: store it, or clear it when missing or empty. Its AwaitingConfiguration
   * is recorded on the enrollment as a TokenUpdate's is (absent means false).
   */
  async setBootstrapToken(
    enrollment: ResolvedEnrollment,
    token: Buffer | undefined,
    awaitingConfiguration: boolean,
    now: Date,
  ): Promise<{ cleared: boolean }> {
    const sealed =
      token !== undefined && token.length > 0 ? this.secrets.seal(token, bootstrapTokenAad(enrollment.deviceId)) : null;
    return this.db.transaction(async (tx) => {
      await this.requireBootstrapCapable(tx, enrollment);
      await this.repo.setBootstrapToken(tx, enrollment.deviceId, sealed, now);
      await this.repo.setAwaitingConfiguration(tx, enrollment.id, awaitingConfiguration, now);
      return { cleared: sealed === null };
    });
  }

  /** GetBootstrapToken: the escrowed token, or `null` when none is stored; records AwaitingConfiguration. */
  async getBootstrapToken(
    enrollment: ResolvedEnrollment,
    awaitingConfiguration: boolean,
    now: Date,
  ): Promise<Buffer | null> {
    return this.db.transaction(async (tx) => {
      await this.requireBootstrapCapable(tx, enrollment);
      await this.repo.setAwaitingConfiguration(tx, enrollment.id, awaitingConfiguration, now);
      const sealed = await this.repo.bootstrapToken(tx, enrollment.deviceId);
      // Opened inside the transaction: a token that cannot be opened (wrong key) is a 500 that
      // leaves nothing written.
      return sealed === null ? null : this.secrets.open(sealed, bootstrapTokenAad(enrollment.deviceId));
    });
  }

  /** A user channel exists only under an enrolled, enabled device channel. */
  async requireEnrolledParent(tx: SqlRunner, enrollment: ResolvedEnrollment): Promise<void> {
    const parentId = enrollment.parentId;
    if (parentId === null) return;
    const parent = await this.repo.enrollmentState(tx, parentId);
    if (parent === undefined || !parent.enabled) {
      throw new CheckinError(
        CheckinErrorCode.UnknownEnrollment,
        `the device channel ${parentId} of this user channel is not enrolled`,
      );
    }
  }

  /**
   * The first UserAuthenticate step: records its answer on the user with the challenge (if
   * any) and when it expires. A new handshake ends the validity of the last AuthToken.
   */
  async beginUserAuthenticate(
    enrollment: ResolvedEnrollment,
    state: Extract<UserAuthenticateState, 'declined' | 'challenged' | 'allowed'>,
    challenge: { readonly value: string; readonly expiresAt: Date } | null,
    longName: string | undefined,
    now: Date,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.requireEnrolledParent(tx, enrollment);
      await this.repo.upsertUserAuthenticate(
        tx,
        userFacts(enrollment, longName),
        state,
        challenge?.value ?? null,
        challenge?.expiresAt ?? null,
        now,
      );
    });
  }

  /** The challenge a second UserAuthenticate step may answer at `now`; checks the parent. */
  async pendingDigestChallenge(enrollment: ResolvedEnrollment, now: Date): Promise<PendingChallenge> {
    const pending = await this.db.transaction(async (tx) => {
      await this.requireEnrolledParent(tx, enrollment);
      return this.repo.digestChallenge(tx, enrollment.id);
    });
    if (pending === undefined) return { missing: 'none' };
    if (pending.expiresAt === null || pending.expiresAt.getTime() <= now.getTime()) return { missing: 'expired' };
    return { challenge: pending.challenge };
  }

  /**
   * The second step's outcome, with the hash of the AuthToken handed out when accepted. Uses
   * the challenge up; false (nothing written) when it was already answered or has expired.
   */
  async answerDigestChallenge(
    enrollment: ResolvedEnrollment,
    challenge: string,
    state: Extract<UserAuthenticateState, 'accepted' | 'rejected' | 'declined'>,
    authTokenHash: string | null,
    longName: string | undefined,
    now: Date,
  ): Promise<boolean> {
    return this.db.transaction((tx) =>
      this.repo.answerDigestChallenge(tx, enrollment.id, challenge, state, authTokenHash, longName ?? null, now),
    );
  }

  /** The hash of the AuthToken last handed to a user channel; null when none is valid. */
  authTokenHash(enrollmentId: string): Promise<string | null> {
    return this.repo.authTokenHash(this.db, enrollmentId);
  }

  /** Bootstrap tokens belong to an enabled device-channel enrollment, never to User Enrollment. */
  private async requireBootstrapCapable(tx: SqlRunner, enrollment: ResolvedEnrollment): Promise<void> {
    const state = await this.repo.enrollmentState(tx, enrollment.id);
    if (state === undefined) {
      throw new CheckinError(
        CheckinErrorCode.UnknownEnrollment,
        `enrollment ${enrollment.id} is not known (no TokenUpdate yet)`,
      );
    }
    if (state.type !== 'Device') {
      throw new CheckinError(
        CheckinErrorCode.NotAllowedForEnrollmentType,
        `bootstrap tokens are not available to ${state.type} enrollments`,
      );
    }
    if (!state.enabled) {
      throw new CheckinError(CheckinErrorCode.EnrollmentDisabled, `enrollment ${enrollment.id} is not enabled`);
    }
  }
}

function unknownDevice(deviceId: string): CheckinError {
  return new CheckinError(CheckinErrorCode.UnknownDevice, `device ${deviceId} has not sent Authenticate`);
}
