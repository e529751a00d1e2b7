import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { EnrollmentType, ResolvedEnrollment } from '../checkin/enrollment-id.js';
import { keysetPage, pageOf } from '../common/keyset-page.js';
import type { Page, PageRequest } from '../common/keyset-page.js';
import { DatabaseService } from '../database/database.service.js';
import { EnrollmentsQueries } from '../enrollments/enrollments.queries.js';
import { EnrollmentsService } from '../enrollments/enrollments.service.js';
import type { ChannelState } from '../enrollments/enrollments.queries.js';
import type { TokenUpdateInput } from '../enrollments/enrollments.service.js';
import { UserEntity } from './entities/user.entity.js';
import { UsersRepository } from './users.repository.js';
import type { UserFacts } from './users.repository.js';

/** The first step's answer (declined, challenged, allowed) or the second's (accepted, rejected, declined). */
export type UserAuthenticateState = 'declined' | 'challenged' | 'allowed' | 'accepted' | 'rejected';

/** The challenge a DigestResponse answers, or why there is none to answer. */
export type PendingChallenge = { readonly challenge: string } | { readonly missing: 'none' | 'expired' };

export interface UserTokenUpdateInput extends TokenUpdateInput {
  /** Who the user is (macOS). */
  userLongName: string | undefined;
  notOnConsole: boolean | undefined;
}

export interface UserTokenUpdateOutcome {
  /** 1 for the first TokenUpdate after (re-)enrollment: the moment pushes may start. */
  tokenUpdateCount: number;
  /** An UnlockToken sent on a user channel, which is never stored. */
  unlockTokenIgnored: boolean;
}

export interface UserView {
  /** The user channel's enrollment id. */
  enrollmentId: string;
  type: EnrollmentType;
  userId: string | null;
  shortName: string | null;
  longName: string | null;
  notOnConsole: boolean | null;
  /** Whether the user channel is enabled; false until its first TokenUpdate. */
  enabled: boolean;
  /** The last message of this user channel (TokenUpdate or UserAuthenticate). */
  lastSeenAt: string | null;
  lastTokenUpdateAt: string | null;
  lastUserAuthenticateAt: string | null;
  /** declined, challenged, allowed, accepted or rejected; null when the user never sent UserAuthenticate. */
  userAuthenticateState: string | null;
}

/** What a user list can be narrowed to; every field given must hold. */
export interface UserFilter {
  type?: EnrollmentType;
  deviceId?: string;
  /** Users whose record changed at or after this instant. */
  updatedSince?: Date;
}

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

/**
 * The rules of user channels (macOS users, Shared iPad users, User Enrollment users) and of
 * their users table. The channel's enrollment row belongs to the enrollments module, reached
 * through its service in the same transaction as the user's row; enrollments knows nothing of
 * users (one direction).
 */
@Injectable()
export class UserChannelsService {
  constructor(
    @Inject(DatabaseService) private readonly db: DatabaseService,
    @Inject(UsersRepository) private readonly repo: UsersRepository,
    @Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService,
    @Inject(EnrollmentsQueries) private readonly enrollmentViews: EnrollmentsQueries,
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
  ) {}

  /**
   * A user channel's TokenUpdate: needs its device channel enrolled and enabled, keeps its
   * own push credentials and count, never stores an UnlockToken (the device's is left
   * alone), and creates or refreshes its user record — in one transaction.
   */
  async tokenUpdate(
    enrollment: ResolvedEnrollment,
    input: UserTokenUpdateInput,
    now: Date,
  ): Promise<UserTokenUpdateOutcome> {
    const unlockTokenIgnored = input.unlockToken !== undefined && input.unlockToken.length > 0;
    return this.db.transaction(async (tx) => {
      const tokenUpdateCount = await this.enrollments.recordUserChannelTokenUpdate(tx, enrollment, input, now);
      await this.repo.upsertFromTokenUpdate(
        tx,
        userFacts(enrollment, input.userLongName),
        input.notOnConsole ?? null,
        now,
      );
      return { tokenUpdateCount, unlockTokenIgnored };
    });
  }

  /** A user channel's CheckOut: that channel only is disabled; the records are kept. */
  checkOut(enrollment: ResolvedEnrollment, now: Date): Promise<{ disabled: number }> {
    return this.enrollments.checkOut(enrollment, now);
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
      await this.enrollments.requireEnrolledParent(tx, enrollment);
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
      await this.enrollments.requireEnrolledParent(tx, enrollment);
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

  /** The device's users with their channel's state; undefined when the device is unknown. */
  async usersOfDevice(udid: string): Promise<UserView[] | undefined> {
    if (!(await this.enrollments.deviceExists(udid))) return undefined;
    const users = await this.users.find({ where: { deviceId: udid }, order: { createdAt: 'ASC', id: 'ASC' } });
    const channels = await this.enrollmentViews.channelsOfDevice(udid);
    return users.map((u) => userView(u, channels));
  }

  /** One page of the users of every device, with their channel's state. */
  async listUsers(filter: UserFilter, page: PageRequest): Promise<Page<UserView>> {
    const qb = this.users.createQueryBuilder('u');
    if (filter.type !== undefined) qb.andWhere('u.type = :type', { type: filter.type });
    if (filter.deviceId !== undefined) qb.andWhere('u.device_id = :deviceId', { deviceId: filter.deviceId });
    if (filter.updatedSince !== undefined) {
      qb.andWhere('u.updated_at >= :updatedSince', { updatedSince: this.db.date(filter.updatedSince) });
    }
    const rows = await keysetPage(qb, 'u', page, (d) => this.db.date(d)).getMany();
    const channels = await this.enrollmentViews.channels(rows.slice(0, page.limit).map((u) => u.id));
    return pageOf(rows, page, (kept) => kept.map((u) => userView(u, channels)));
  }
}

/** A user and the state of its channel (from `channels`, which may hold others too). */
function userView(u: UserEntity, channels: readonly ChannelState[]): UserView {
  const e = channels.find((c) => c.id === u.id);
  const iso = (d: Date | null | undefined): string | null => (d == null ? null : d.toISOString());
  const seen = [e?.lastSeenAt, u.lastUserAuthenticateAt].filter((d): d is Date => d != null);
  return {
    enrollmentId: u.id,
    type: u.type,
    userId: u.userId,
    shortName: u.shortName,
    longName: u.longName,
    notOnConsole: u.notOnConsole,
    enabled: e?.enabled ?? false,
    lastSeenAt: iso(seen.sort((a, b) => b.getTime() - a.getTime())[0]),
    lastTokenUpdateAt: iso(u.lastTokenUpdateAt),
    lastUserAuthenticateAt: iso(u.lastUserAuthenticateAt),
    userAuthenticateState: u.userAuthenticateState,
  };
}
