import { Inject, Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import type { SqlRunner } from '../database/database.service.js';
import type { EnrollmentType } from '../checkin/enrollment-id.js';
import type { WriteGuard } from '../checkin/checkin.types.js';

/** The device facts an Authenticate carries; `null` keeps what is stored. */
export interface DeviceFacts {
  serialNumber: string | null;
  model: string | null;
  modelName: string | null;
  osVersion: string | null;
  buildVersion: string | null;
  productName: string | null;
  deviceName: string | null;
  imei: string | null;
  meid: string | null;
}

export interface EnrollmentUpsert {
  id: string;
  deviceId: string;
  parentId: string | null;
  type: EnrollmentType;
  topic: string;
  pushMagic: string;
  token: Buffer;
  awaitingConfiguration: boolean;
}

/** What a user-channel message says about its user. */
export interface UserFacts {
  id: string;
  deviceId: string;
  type: EnrollmentType;
  userId: string | null;
  shortName: string | null;
  longName: string | null;
}

export interface EnrollmentState {
  enabled: boolean;
  type: EnrollmentType;
  tokenUpdateCount: number;
}

const USER_COLUMNS = ['id', 'device_id', 'type', 'user_id', 'short_name', 'long_name'] as const;
const userValues = (u: UserFacts): unknown[] => [u.id, u.deviceId, u.type, u.userId, u.shortName, u.longName];

const FACT_COLUMNS: readonly [keyof DeviceFacts, string][] = [
  ['serialNumber', 'serial_number'],
  ['model', 'model'],
  ['modelName', 'model_name'],
  ['osVersion', 'os_version'],
  ['buildVersion', 'build_version'],
  ['productName', 'product_name'],
  ['deviceName', 'device_name'],
  ['imei', 'imei'],
  ['meid', 'meid'],
];

/**
 * Hand-written SQL for the check-in write paths: one statement where the database can
 * decide (upserts, atomic counters) instead of read-then-write. Each method takes the
 * transaction it runs in. Statements are spelled for both MySQL/MariaDB and SQLite.
 */
@Injectable()
export class EnrollmentsRepository {
  private readonly sqlite: boolean;

  constructor(@Inject(DatabaseService) private readonly db: DatabaseService) {
    this.sqlite = db.driver === 'sqlite';
  }

  /** `col = <the value just sent>` in an upsert's update list. */
  private fresh(c: string): string {
    return this.sqlite ? `${c} = excluded.${c}` : `${c} = VALUES(${c})`;
  }

  /** `col = <the value just sent, or the stored one when the new one is NULL>`. */
  private keep(table: string, c: string): string {
    return this.sqlite ? `${c} = COALESCE(excluded.${c}, ${table}.${c})` : `${c} = COALESCE(VALUES(${c}), ${c})`;
  }

  /** INSERT of one row that applies `updates` when its primary key `id` exists, in either dialect. */
  private upsertSql(
    table: string,
    columns: readonly string[],
    updates: readonly string[],
    sqliteReturning = '',
    guard?: WriteGuard,
  ): string {
    const placeholders = columns.map(() => '?').join(', ');
    // With a guard the row comes from a SELECT that yields it only when the guard holds
    // (SQLite needs the WHERE there anyway, to tell the upsert's ON from a join's).
    const source =
      guard === undefined
        ? `VALUES (${placeholders})`
        : `SELECT ${placeholders} FROM (SELECT 1 AS one) AS guarded WHERE ${guard.sql}`;
    const insert = `INSERT INTO ${table} (${columns.join(', ')}) ${source} `;
    return this.sqlite
      ? `${insert}ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}${sqliteReturning}`
      : `${insert}ON DUPLICATE KEY UPDATE ${updates.join(', ')}`;
  }

  /** The stored serial number; undefined when the device is unknown, null when it never sent one. */
  async deviceSerialNumber(tx: SqlRunner, deviceId: string): Promise<string | null | undefined> {
    const rows = await tx.query<{ s: string | null }[]>('SELECT serial_number AS s FROM devices WHERE id = ?', [
      deviceId,
    ]);
    return rows.length === 0 ? undefined : (rows[0]?.s ?? null);
  }

  async deviceExists(tx: SqlRunner, deviceId: string): Promise<boolean> {
    const rows = await tx.query<unknown[]>('SELECT 1 AS found FROM devices WHERE id = ?', [deviceId]);
    return rows.length > 0;
  }

  /**
   * Creates the device or, on re-enrollment, updates it: new facts overwrite (absent ones
   * keep the stored value) and the last Authenticate is recorded. The escrowed UnlockToken
   * and bootstrap token are kept: identity renewal is an Authenticate too, and the device
   * never sends the bootstrap token again (a newer secret replaces them when it comes).
   */
  async upsertAuthenticatedDevice(
    tx: SqlRunner,
    deviceId: string,
    facts: DeviceFacts,
    rawMessage: Buffer,
    now: Date,
  ): Promise<boolean> {
    // Whether the device existed: SQLite is asked; MySQL says it in the upsert's result.
    const existed = this.sqlite ? await this.deviceExists(tx, deviceId) : undefined;
    const at = this.db.date(now);
    const factColumns = FACT_COLUMNS.map(([, c]) => c);
    const sql = this.upsertSql(
      'devices',
      ['id', ...factColumns, 'last_authenticate', 'last_authenticate_at', 'created_at', 'updated_at'],
      [
        ...factColumns.map((c) => this.keep('devices', c)),
        this.fresh('last_authenticate'),
        this.fresh('last_authenticate_at'),
        this.fresh('updated_at'),
      ],
    );
    const values = [deviceId, ...FACT_COLUMNS.map(([k]) => facts[k]), rawMessage, at, at, at];
    const result = await tx.query<unknown>(sql, values);
    // MySQL's affected rows for an upsert: 1 inserted, 2 updated, 0 updated to identical values.
    return existed ?? this.db.affectedRows(result) !== 1;
  }

  /** Disables every enrollment of the device (device and user channels) until a TokenUpdate. */
  async disableAllForReenrollment(tx: SqlRunner, deviceId: string, now: Date): Promise<void> {
    await tx.query('UPDATE enrollments SET enabled = 0, token_update_count = 0, updated_at = ? WHERE device_id = ?', [
      this.db.date(now),
      deviceId,
    ]);
  }

  /**
   * Creates or refreshes an enrollment from a TokenUpdate: enabled, newest push
   * credentials, count + 1 computed by the database (so concurrent updates lose none).
   * Throws a foreign-key violation when the device was never authenticated.
   */
  async upsertFromTokenUpdate(tx: SqlRunner, e: EnrollmentUpsert, now: Date): Promise<number> {
    return (await this.tokenUpdateUpsert(tx, e, now)) ?? 1;
  }

  /**
   * The same upsert, written only when `guard` holds, in the same statement; the new count,
   * or undefined when the guard did not hold and nothing was written.
   */
  upsertFromTokenUpdateIf(
    tx: SqlRunner,
    e: EnrollmentUpsert,
    now: Date,
    guard: WriteGuard,
  ): Promise<number | undefined> {
    return this.tokenUpdateUpsert(tx, e, now, guard);
  }

  /** Whether the guard holds now (inside a transaction, before its writes). */
  async holds(tx: SqlRunner, guard: WriteGuard): Promise<boolean> {
    const rows = await tx.query<unknown[]>(`SELECT 1 AS held FROM (SELECT 1 AS one) AS guarded WHERE ${guard.sql}`, [
      ...guard.params,
    ]);
    return rows.length > 0;
  }

  private async tokenUpdateUpsert(
    tx: SqlRunner,
    e: EnrollmentUpsert,
    now: Date,
    guard?: WriteGuard,
  ): Promise<number | undefined> {
    const at = this.db.date(now);
    const sql = this.upsertSql(
      'enrollments',
      [
        'id',
        'device_id',
        'parent_id',
        'type',
        'topic',
        'push_magic',
        'token',
        'enabled',
        'token_update_count',
        'awaiting_configuration',
        'last_seen_at',
        'created_at',
        'updated_at',
      ],
      [
        this.fresh('topic'),
        this.fresh('push_magic'),
        this.fresh('token'),
        'enabled = 1',
        // MySQL hands the new count back as the statement's insert id (LAST_INSERT_ID(expr));
        // SQLite returns it with RETURNING. Either way no second round trip to read it.
        this.sqlite
          ? 'token_update_count = token_update_count + 1'
          : 'token_update_count = LAST_INSERT_ID(token_update_count + 1)',
        this.fresh('awaiting_configuration'),
        this.fresh('last_seen_at'),
        this.fresh('updated_at'),
      ],
      ' RETURNING token_update_count AS n',
      guard,
    );
    const awaiting = e.awaitingConfiguration ? 1 : 0;
    const values = [e.id, e.deviceId, e.parentId, e.type, e.topic, e.pushMagic, e.token, 1, 1, awaiting, at, at, at];
    const result = await tx.query<unknown>(sql, guard === undefined ? values : [...values, ...guard.params]);
    if (this.sqlite) {
      const rows = result as { n: number }[];
      if (rows[0] === undefined) return guard === undefined ? 1 : undefined;
      return Number(rows[0].n);
    }
    const { insertId, affectedRows } = result as { insertId?: number | string; affectedRows?: number };
    // No row from the guarded SELECT: nothing written.
    if (guard !== undefined && Number(affectedRows ?? 0) === 0) return undefined;
    // A fresh row (insert path) leaves the insert id at 0: it is the first TokenUpdate.
    return Number(insertId ?? 0) || 1;
  }

  async enrollmentState(tx: SqlRunner, enrollmentId: string): Promise<EnrollmentState | undefined> {
    const rows = await tx.query<{ enabled: number | boolean; type: EnrollmentType; n: number | string }[]>(
      'SELECT enabled, type, token_update_count AS n FROM enrollments WHERE id = ?',
      [enrollmentId],
    );
    const row = rows[0];
    return row === undefined
      ? undefined
      : { enabled: Boolean(Number(row.enabled)), type: row.type, tokenUpdateCount: Number(row.n) };
  }

  /** Disables one enrollment, and with `withUserChannels` the user channels under it. Returns rows changed. */
  async disable(tx: SqlRunner, enrollmentId: string, withUserChannels: boolean, now: Date): Promise<number> {
    const where = withUserChannels ? 'id = ? OR parent_id = ?' : 'id = ?';
    const params = withUserChannels ? [enrollmentId, enrollmentId] : [enrollmentId];
    return this.db.changedRows(
      tx,
      `UPDATE enrollments SET enabled = 0, updated_at = ?, last_seen_at = ? WHERE ${where}`,
      [this.db.date(now), this.db.date(now), ...params],
    );
  }

  async setUnlockToken(tx: SqlRunner, deviceId: string, sealed: Buffer, now: Date): Promise<void> {
    const at = this.db.date(now);
    await tx.query('UPDATE devices SET unlock_token = ?, unlock_token_at = ?, updated_at = ? WHERE id = ?', [
      sealed,
      at,
      at,
      deviceId,
    ]);
  }

  async setBootstrapToken(tx: SqlRunner, deviceId: string, sealed: Buffer | null, now: Date): Promise<void> {
    const at = this.db.date(now);
    await tx.query('UPDATE devices SET bootstrap_token = ?, bootstrap_token_at = ?, updated_at = ? WHERE id = ?', [
      sealed,
      sealed === null ? null : at,
      at,
      deviceId,
    ]);
  }

  /** Records whether the device waits for DeviceConfigured, as its latest message said. */
  async setAwaitingConfiguration(tx: SqlRunner, enrollmentId: string, awaiting: boolean, now: Date): Promise<void> {
    const at = this.db.date(now);
    await tx.query('UPDATE enrollments SET awaiting_configuration = ?, last_seen_at = ?, updated_at = ? WHERE id = ?', [
      awaiting ? 1 : 0,
      at,
      at,
      enrollmentId,
    ]);
  }

  async bootstrapToken(tx: SqlRunner, deviceId: string): Promise<Buffer | null> {
    const rows = await tx.query<{ t: Buffer | Uint8Array | null }[]>(
      'SELECT bootstrap_token AS t FROM devices WHERE id = ?',
      [deviceId],
    );
    const t = rows[0]?.t ?? null;
    return t === null ? null : Buffer.from(t);
  }

  /** Creates or refreshes the user of a user-channel TokenUpdate; absent names keep stored ones. */
  async upsertUserFromTokenUpdate(tx: SqlRunner, u: UserFacts, notOnConsole: boolean | null, now: Date): Promise<void> {
    const at = this.db.date(now);
    const sql = this.upsertSql(
      'users',
      [...USER_COLUMNS, 'not_on_console', 'last_token_update_at', 'created_at', 'updated_at'],
      [
        ...this.keepUserNames(),
        this.fresh('not_on_console'),
        this.fresh('last_token_update_at'),
        this.fresh('updated_at'),
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
    const sql = this.upsertSql(
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
        this.fresh('last_user_authenticate_at'),
        this.fresh('user_authenticate_state'),
        this.fresh('digest_challenge'),
        this.fresh('digest_challenge_expires_at'),
        this.fresh('auth_token_hash'),
        this.fresh('updated_at'),
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
    return ['user_id', 'short_name', 'long_name'].map((c) => this.keep('users', c));
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
