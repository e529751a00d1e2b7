import { Inject, Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import type { SqlRunner } from '../database/database.service.js';
import type { VerifiedCertificate } from './certificate-verifier.js';
import type { WriteGuard } from '../common/write-guard.js';
import type { BindingRevokedReason } from './entities/certificate-binding.entity.js';

/** One row of a device's binding history. */
export interface BindingView {
  fingerprint: string;
  subject: string;
  notAfter: Date;
  boundAt: Date;
  revokedAt: Date | null;
  revokedReason: BindingRevokedReason | null;
}

/** What the check-in path needs to know of a binding. */
export interface BindingState {
  fingerprint: string;
  deviceId: string;
  revoked: boolean;
}

type Row = {
  fingerprint: string;
  device_id: string;
  subject: string;
  not_after: Date | string;
  bound_at: Date | string;
  revoked_at: Date | string | null;
  revoked_reason: BindingRevokedReason | null;
};

/**
 * The certificate_bindings table: one row per certificate, ever bound to exactly one device.
 * A device holds any number of active rows; revoked rows stay as history and as a refusal.
 */
@Injectable()
export class CertificateBindingsRepository {
  constructor(@Inject(DatabaseService) private readonly db: DatabaseService) {}

  /** Every binding of the device, active and revoked (a handful at most). */
  async ofDevice(runner: SqlRunner, deviceId: string): Promise<BindingState[]> {
    const rows = await runner.query<{ fingerprint: string; revoked_at: unknown }[]>(
      'SELECT fingerprint, revoked_at FROM certificate_bindings WHERE device_id = ?',
      [deviceId],
    );
    return rows.map((r) => ({ fingerprint: r.fingerprint, deviceId, revoked: r.revoked_at !== null }));
  }

  /**
   * "This certificate is bound to this device and not revoked", as a condition another
   * module's write can carry (a WriteGuard): the check of {@link ofDevice} for a certificate
   * that is bound, in the same statement as the write.
   */
  activeBindingGuard(deviceId: string, fingerprint: string): WriteGuard {
    return {
      sql: 'EXISTS (SELECT 1 FROM certificate_bindings WHERE fingerprint = ? AND device_id = ? AND revoked_at IS NULL)',
      params: [fingerprint, deviceId],
    };
  }

  /** The device's bindings and the certificate's own (whichever device it belongs to), in one read. */
  async ofDeviceOrCertificate(runner: SqlRunner, deviceId: string, fingerprint: string): Promise<BindingState[]> {
    const rows = await runner.query<{ fingerprint: string; device_id: string; revoked_at: unknown }[]>(
      'SELECT fingerprint, device_id, revoked_at FROM certificate_bindings WHERE device_id = ? OR fingerprint = ?',
      [deviceId, fingerprint],
    );
    return rows.map((r) => ({ fingerprint: r.fingerprint, deviceId: r.device_id, revoked: r.revoked_at !== null }));
  }

  /** The binding of a certificate, whichever device it belongs to. */
  async byFingerprint(runner: SqlRunner, fingerprint: string): Promise<BindingState | undefined> {
    const rows = await runner.query<{ device_id: string; revoked_at: unknown }[]>(
      'SELECT device_id, revoked_at FROM certificate_bindings WHERE fingerprint = ?',
      [fingerprint],
    );
    const r = rows[0];
    return r === undefined ? undefined : { fingerprint, deviceId: r.device_id, revoked: r.revoked_at !== null };
  }

  /**
   * Adds `cert` to the device's bindings. A certificate already bound anywhere fails on the
   * primary key: never an upsert, which could silently move another device's row.
   */
  async add(runner: SqlRunner, deviceId: string, cert: VerifiedCertificate, now: Date): Promise<void> {
    await runner.query(
      'INSERT INTO certificate_bindings (fingerprint, device_id, subject, not_after, bound_at) VALUES (?, ?, ?, ?, ?)',
      [cert.fingerprint, deviceId, cert.subject.slice(0, 1024), this.db.date(cert.notAfter), this.db.date(now)],
    );
  }

  /** Revokes the device's active bindings except `keep`; returns the fingerprints revoked. */
  async revokeOthers(
    runner: SqlRunner,
    deviceId: string,
    keep: string,
    reason: BindingRevokedReason,
    now: Date,
  ): Promise<string[]> {
    const rows = await runner.query<{ fingerprint: string }[]>(
      'SELECT fingerprint FROM certificate_bindings WHERE device_id = ? AND revoked_at IS NULL AND fingerprint <> ?',
      [deviceId, keep],
    );
    if (rows.length === 0) return [];
    const revoked = rows.map((r) => r.fingerprint);
    await runner.query(
      `UPDATE certificate_bindings SET revoked_at = ?, revoked_reason = ? WHERE device_id = ? AND revoked_at IS NULL AND fingerprint IN (${revoked.map(() => '?').join(', ')})`,
      [this.db.date(now), reason, deviceId, ...revoked],
    );
    return revoked;
  }

  /**
   * Revokes one binding of the device. `unknown` when the device has no such certificate;
   * `already` when it was revoked before (its first revocation is kept).
   */
  async revoke(
    runner: SqlRunner,
    deviceId: string,
    fingerprint: string,
    reason: BindingRevokedReason,
    now: Date,
  ): Promise<'revoked' | 'already' | 'unknown'> {
    const state = await this.byFingerprint(runner, fingerprint);
    if (state === undefined || state.deviceId !== deviceId) return 'unknown';
    if (state.revoked) return 'already';
    await runner.query(
      'UPDATE certificate_bindings SET revoked_at = ?, revoked_reason = ? WHERE fingerprint = ? AND revoked_at IS NULL',
      [this.db.date(now), reason, fingerprint],
    );
    return 'revoked';
  }

  /** The device's binding history, oldest first. */
  async history(deviceId: string): Promise<BindingView[]> {
    return (await this.histories([deviceId])).get(deviceId) ?? [];
  }

  /** The binding history of each of the devices (oldest first), in one statement; no entry for a device without any. */
  async histories(deviceIds: readonly string[]): Promise<Map<string, BindingView[]>> {
    const out = new Map<string, BindingView[]>();
    if (deviceIds.length === 0) return out;
    const rows = await this.db.query<Row[]>(
      'SELECT fingerprint, device_id, subject, not_after, bound_at, revoked_at, revoked_reason ' +
        `FROM certificate_bindings WHERE device_id IN (${deviceIds.map(() => '?').join(', ')}) ` +
        'ORDER BY bound_at, fingerprint',
      deviceIds,
    );
    for (const r of rows) out.set(r.device_id, [...(out.get(r.device_id) ?? []), this.view(r)]);
    return out;
  }

  private view(r: Row): BindingView {
    return {
      fingerprint: r.fingerprint,
      subject: r.subject,
      notAfter: this.db.readDate(r.not_after),
      boundAt: this.db.readDate(r.bound_at),
      revokedAt: r.revoked_at === null ? null : this.db.readDate(r.revoked_at),
      revokedReason: r.revoked_reason,
    };
  }
}
