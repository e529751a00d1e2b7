import { Inject, Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import type { SqlRunner } from '../database/database.service.js';
import type { VerifiedCertificate } from './certificate-verifier.js';

export interface BindingView {
  fingerprint: string;
  subject: string;
  notAfter: Date;
  updatedAt: Date;
}

/** The certificate_bindings table: one certificate per device, one device per certificate. */
@Injectable()
export class CertificateBindingsRepository {
  constructor(@Inject(DatabaseService) private readonly db: DatabaseService) {}

  async fingerprintOf(deviceId: string): Promise<string | undefined> {
    const rows = await this.db.query<{ f: string }[]>(
      'SELECT fingerprint AS f FROM certificate_bindings WHERE device_id = ?',
      [deviceId],
    );
    return rows[0]?.f;
  }

  async ownerOf(fingerprint: string): Promise<string | undefined> {
    const rows = await this.db.query<{ d: string }[]>(
      'SELECT device_id AS d FROM certificate_bindings WHERE fingerprint = ?',
      [fingerprint],
    );
    return rows[0]?.d;
  }

  async view(deviceId: string): Promise<BindingView | undefined> {
    const rows = await this.db.query<
      {
        fingerprint: string;
        subject: string;
        not_after: Date | string;
        updated_at: Date | string;
      }[]
    >('SELECT fingerprint, subject, not_after, updated_at FROM certificate_bindings WHERE device_id = ?', [deviceId]);
    const r = rows[0];
    if (r === undefined) return undefined;
    return {
      fingerprint: r.fingerprint,
      subject: r.subject,
      notAfter: this.db.readDate(r.not_after),
      updatedAt: this.db.readDate(r.updated_at),
    };
  }

  /**
   * Binds `cert` to the device; with `replace`, an earlier binding of the device goes
   * (re-enrollment). A certificate bound to another device fails on the unique fingerprint.
   * Not an upsert: MySQL's ON DUPLICATE KEY UPDATE would silently update the other device's
   * row on a fingerprint clash instead of failing. Run it in a transaction when replacing.
   */
  async bind(
    runner: SqlRunner,
    deviceId: string,
    cert: VerifiedCertificate,
    now: Date,
    replace: boolean,
  ): Promise<void> {
    const at = this.db.date(now);
    if (replace) await runner.query('DELETE FROM certificate_bindings WHERE device_id = ?', [deviceId]);
    await runner.query(
      'INSERT INTO certificate_bindings (device_id, fingerprint, subject, not_after, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      [deviceId, cert.fingerprint, cert.subject.slice(0, 1024), this.db.date(cert.notAfter), at, at],
    );
  }
}
