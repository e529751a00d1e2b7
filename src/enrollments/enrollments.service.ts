import { Inject, Injectable } from '@nestjs/common';
import { CheckinError, CheckinErrorCode } from '../checkin/checkin.errors.js';
import type { ResolvedEnrollment } from '../checkin/enrollment-id.js';
import { WriteGuardUnmet } from '../common/write-guard.js';
import type { WriteGuard } from '../common/write-guard.js';
import { SecretBox } from '../common/secret-box.js';
import type { ConfigType } from '@nestjs/config';
import { PUSH_TOPIC_PREFIX } from '../config/config.js';
import { enrollmentsConfig } from '../config/namespaces.js';
import { DatabaseService, isForeignKeyViolation } from '../database/database.service.js';
import type { SqlRunner } from '../database/database.service.js';
import { EnrollmentsRepository } from './enrollments.repository.js';
import type { DeviceFacts, EnrollmentState, EnrollmentUpsert } from './enrollments.repository.js';

export interface TokenUpdateInput {
  topic: string;
  token: Buffer;
  pushMagic: string;
  unlockToken: Buffer | undefined;
  awaitingConfiguration: boolean;
}

export interface TokenUpdateOutcome {
  /** 1 for the first TokenUpdate after (re-)enrollment: the moment pushes may start. */
  tokenUpdateCount: number;
  unlockTokenStored: boolean;
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
    @Inject(enrollmentsConfig.KEY) private readonly config: ConfigType<typeof enrollmentsConfig>,
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
   * TokenUpdate on the device channel: the enrollment is created or refreshed, enabled, with
   * the newest push credentials; an UnlockToken sent is sealed and kept (one sent without it
   * keeps the stored one). User channels' TokenUpdate is the user-channels module's, through
   * {@link recordUserChannelTokenUpdate}.
   */
  async tokenUpdate(
    enrollment: ResolvedEnrollment,
    input: TokenUpdateInput,
    now: Date,
    guard?: WriteGuard,
  ): Promise<TokenUpdateOutcome> {
    const hasUnlock = input.unlockToken !== undefined && input.unlockToken.length > 0;
    const sealedUnlock =
      hasUnlock && input.unlockToken !== undefined
        ? this.secrets.seal(input.unlockToken, unlockTokenAad(enrollment.deviceId))
        : undefined;
    const upsert = enrollmentUpsert(enrollment, input);
    try {
      if (sealedUnlock === undefined) {
        // The common case is one statement: atomic on its own, no explicit transaction, and
        // with the guard (the certificate binding) in its WHERE: one round trip in all.
        const tokenUpdateCount =
          guard === undefined
            ? await this.repo.upsertFromTokenUpdate(this.db, upsert, now)
            : await this.repo.upsertFromTokenUpdateIf(this.db, upsert, now, guard);
        if (tokenUpdateCount === undefined) throw new WriteGuardUnmet();
        return { tokenUpdateCount, unlockTokenStored: false };
      }
      return await this.db.transaction(async (tx) => {
        if (guard !== undefined && !(await this.repo.holds(tx, guard))) throw new WriteGuardUnmet();
        const tokenUpdateCount = await this.repo.upsertFromTokenUpdate(tx, upsert, now);
        await this.repo.setUnlockToken(tx, enrollment.deviceId, sealedUnlock, now);
        return { tokenUpdateCount, unlockTokenStored: true };
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw unknownDevice(enrollment.deviceId);
      throw err;
    }
  }

  /**
   * The enrollment side of a user channel's TokenUpdate, in the caller's transaction: the
   * device channel must be enrolled and enabled; the channel keeps its own push credentials
   * and count. Returns the count (1 for the first TokenUpdate). Never touches the device's
   * UnlockToken.
   */
  async recordUserChannelTokenUpdate(
    tx: SqlRunner,
    enrollment: ResolvedEnrollment,
    input: Omit<TokenUpdateInput, 'unlockToken'>,
    now: Date,
  ): Promise<number> {
    await this.requireEnrolledParent(tx, enrollment);
    try {
      return await this.repo.upsertFromTokenUpdate(tx, enrollmentUpsert(enrollment, input), now);
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

function enrollmentUpsert(
  enrollment: ResolvedEnrollment,
  input: Omit<TokenUpdateInput, 'unlockToken'>,
): EnrollmentUpsert {
  return {
    id: enrollment.id,
    deviceId: enrollment.deviceId,
    parentId: enrollment.parentId,
    type: enrollment.type,
    topic: input.topic,
    pushMagic: input.pushMagic,
    token: input.token,
    awaitingConfiguration: input.awaitingConfiguration,
  };
}

function unknownDevice(deviceId: string): CheckinError {
  return new CheckinError(CheckinErrorCode.UnknownDevice, `device ${deviceId} has not sent Authenticate`);
}
