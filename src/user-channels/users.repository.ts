import { Inject, Injectable } from '@nestjs/common';
import type { EnrollmentType } from '../checkin/enrollment-id.js';
import { DatabaseService } from '../database/database.service.js';
import type { SqlRunner } from '../database/database.service.js';
import { UpsertSql } from '../database/upsert-sql.js';

/** What a user-channel message says about its user. */
export interface UserFacts {
  id: string;
  deviceId: string;
  type: EnrollmentType;
  userId: string | null;
  shortName: string | null;
  longName: string | null;
}

const USER_COLUMNS = ['id', 'device_id', 'type', 'user_id', 'short_name', 'long_name'] as const;
const userValues = (u: UserFacts): unknown[] => [u.id, u.deviceId, u.type, u.userId, u.shortName, u.longName];

/**
 * Hand-written SQL for the users table (one row per user channel): upserts decided by the
 * database, each method on the transaction it is given. Spelled for MySQL/MariaDB and SQLite.
 */
@Injectable()
export class UsersRepository {
  private readonly upsert: UpsertSql;

  constructor(@Inject(DatabaseService) private readonly db: DatabaseService) {
    this.upsert = new UpsertSql(db.driver === 'sqlite');
  }

  /** Creates or refreshes the user of a user-channel TokenUpdate; absent names keep stored ones. */
  async upsertFromTokenUpdate(tx: SqlRunner, u: UserFacts, notOnConsole: boolean | null, now: Date): Promise<void> {
    const at = this.db.date(now);
    const sql = this.upsert.statement(
      'users',
      [...USER_COLUMNS, 'not_on_console', 'last_token_update_at', 'created_at', 'updated_at'],
      [
        ...this.keepUserNames(),
        this.upsert.fresh('not_on_console'),
        this.upsert.fresh('last_token_update_at'),
        this.upsert.fresh('updated_at'),
      ],
    );
    const onConsole = notOnConsole === null ? null : notOnConsole ? 1 : 0;
    await tx.query(sql, [...userValues(u), onConsole, at, at, at]);
  }

  /**
   * Records the first UserAuthenticate step on the user (created if this is the first sign of
   * them): the new challenge (or none) replaces any pending one, and the AuthToken of the last
   * handshake stops being valid.
   */
  async upsertUserAuthenticate(
    tx: SqlRunner,
    u: UserFacts,
    state: string,
    challenge: string | null,
    challengeExpiresAt: Date | null,
    now: Date,
  ): Promise<void> {
    const at = this.db.date(now);
    const sql = this.upsert.statement(
      'users',
      [
        ...USER_COLUMNS,
        'last_user_authenticate_at',
        'user_authenticate_state',
        'digest_challenge',
        'digest_challenge_expires_at',
        'auth_token_hash',
        'created_at',
        'updated_at',
      ],
      [
        ...this.keepUserNames(),
        this.upsert.fresh('last_user_authenticate_at'),
        this.upsert.fresh('user_authenticate_state'),
        this.upsert.fresh('digest_challenge'),
        this.upsert.fresh('digest_challenge_expires_at'),
        this.upsert.fresh('auth_token_hash'),
        this.upsert.fresh('updated_at'),
      ],
    );
    const expires = challengeExpiresAt === null ? null : this.db.date(challengeExpiresAt);
    await tx.query(sql, [...userValues(u), at, state, challenge, expires, null, at, at]);
  }

  /**
   * Records the outcome of the second step and uses the challenge up, only if `challenge` is
   * still the user's pending, unexpired one: of two answers to one challenge one wins.
   * Returns whether it did.
   */
  async answerDigestChallenge(
    tx: SqlRunner,
    userEnrollmentId: string,
    challenge: string,
    state: string,
    authTokenHash: string | null,
    longName: string | null,
    now: Date,
  ): Promise<boolean> {
    const at = this.db.date(now);
    const changed = await this.db.changedRows(
      tx,
      'UPDATE users SET digest_challenge = NULL, digest_challenge_expires_at = NULL, user_authenticate_state = ?, ' +
        'auth_token_hash = ?, long_name = COALESCE(?, long_name), last_user_authenticate_at = ?, updated_at = ? ' +
        'WHERE id = ? AND digest_challenge = ? AND digest_challenge_expires_at > ?',
      [state, authTokenHash, longName, at, at, userEnrollmentId, challenge, at],
    );
    return changed === 1;
  }

  /** The hash of the AuthToken last handed to this user channel; null when none is valid. */
  async authTokenHash(tx: SqlRunner, userEnrollmentId: string): Promise<string | null> {
    const rows = await tx.query<{ h: string | null }[]>('SELECT auth_token_hash AS h FROM users WHERE id = ?', [
      userEnrollmentId,
    ]);
    return rows[0]?.h ?? null;
  }

  private keepUserNames(): string[] {
    return ['user_id', 'short_name', 'long_name'].map((c) => this.upsert.keep('users', c));
  }

  /** The user's pending DigestChallenge and when it expires; undefined when none is pending. */
  async digestChallenge(
    tx: SqlRunner,
    userEnrollmentId: string,
  ): Promise<{ challenge: string; expiresAt: Date | null } | undefined> {
    const rows = await tx.query<{ c: string | null; e: Date | string | null }[]>(
      'SELECT digest_challenge AS c, digest_challenge_expires_at AS e FROM users WHERE id = ?',
      [userEnrollmentId],
    );
    const row = rows[0];
    if (row?.c === undefined || row.c === null || row.c === '') return undefined;
    return { challenge: row.c, expiresAt: row.e === null ? null : this.db.readDate(row.e) };
  }
}
