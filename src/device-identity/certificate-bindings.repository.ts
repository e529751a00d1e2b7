import { Inject, Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import type { VerifiedCertificate } from './certificate-verifier.js';

export interface BindingView {
  fingerprint: string;
  subject: string;
  notAfter: Date;
  createdAt: Date;
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
        created_at: Date | string;
        updated_at: Date | string;
      }[]
    >('SELECT fingerprint, subject, not_after, created_at, updated_at FROM certificate_bindings WHERE device_id = ?', [
      deviceId,
    ]);
    const r = rows[0];
    if (r === undefined) return undefined;
    return {
      fingerprint: r.fingerprint,
      subject: r.subject,
      notAfter: this.db.readDate(r.not_after),
      createdAt: this.db.readDate(r.created_at),
      updatedAt: this.db.readDate(r.updated_at),
    };
  }

  /** Binds `cert` to the device, replacing an earlier binding (re-enrollment). */
  async bind(deviceId: string, cert: VerifiedCertificate, now: Date, replace: boolean): Promise<void> {
    const at = this.db.date(now);
    const values = [deviceId, cert.fingerprint, cert.subject.slice(0, 1024), this.db.date(cert.notAfter), at, at];
    const insert =
      'INSERT INTO certificate_bindings (device_id, fingerprint, subject, not_after, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)';
    if (!replace) {
      await this.db.query(insert, values);
      return;
    }
    const update =
      this.db.driver === 'sqlite'
        ? ' ON CONFLICT (device_id) DO UPDATE SET fingerprint = excluded.fingerprint, subject = excluded.subject, not_after = excluded.not_after, updated_at = excluded.updated_at'
        : ' ON DUPLICATE KEY UPDATE fingerprint = VALUES(fingerprint), subject = VALUES(subject), not_after = VALUES(not_after), updated_at = VALUES(updated_at)';
    await this.db.query(insert + update, values);
  }
}
