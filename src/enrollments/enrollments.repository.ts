import { Inject, Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import type { SqlRunner } from '../database/database.service.js';
import { UpsertSql } from '../database/upsert-sql.js';
import type { EnrollmentType } from '../checkin/enrollment-id.js';
import type { WriteGuard } from '../common/write-guard.js';

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

export interface EnrollmentState {
  enabled: boolean;
  type: EnrollmentType;
  tokenUpdateCount: number;
}

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
  private readonly upsert: UpsertSql;

  constructor(@Inject(DatabaseService) private readonly db: DatabaseService) {
    this.sqlite = db.driver === 'sqlite';
    this.upsert = new UpsertSql(this.sqlite);
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
    const sql = this.upsert.statement(
      'devices',
      ['id', ...factColumns, 'last_authenticate', 'last_authenticate_at', 'created_at', 'updated_at'],
      [
        ...factColumns.map((c) => this.upsert.keep('devices', c)),
        this.upsert.fresh('last_authenticate'),
        this.upsert.fresh('last_authenticate_at'),
        this.upsert.fresh('updated_at'),
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
    const rows = await tx.query<unknown[]>(this.upsert.guardedSelect('1 AS held', guard), [...guard.params]);
    return rows.length > 0;
  }

  private async tokenUpdateUpsert(
    tx: SqlRunner,
    e: EnrollmentUpsert,
    now: Date,
    guard?: WriteGuard,
  ): Promise<number | undefined> {
    const at = this.db.date(now);
    const sql = this.upsert.statement(
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
        this.upsert.fresh('topic'),
        this.upsert.fresh('push_magic'),
        this.upsert.fresh('token'),
        'enabled = 1',
        // MySQL hands the new count back as the statement's insert id (LAST_INSERT_ID(expr));
        // SQLite returns it with RETURNING. Either way no second round trip to read it.
        this.sqlite
          ? 'token_update_count = token_update_count + 1'
          : 'token_update_count = LAST_INSERT_ID(token_update_count + 1)',
        this.upsert.fresh('awaiting_configuration'),
        this.upsert.fresh('last_seen_at'),
        this.upsert.fresh('updated_at'),
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
}
