import type { DeviceCondition } from '../common/device-condition.js';
import { Inject, Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import { AppLogger } from '../logging/app-logger.js';
import { CertificateBindingsRepository } from './certificate-bindings.repository.js';
import type { BindingView } from './certificate-bindings.repository.js';
import type { BindingRevokedReason } from './entities/certificate-binding.entity.js';

// The types of the service's answers, for the modules that call it.
export type { BindingRevokedReason, BindingView };

/** One change of a device's bindings, as the log line tells it. */
export interface BindingChange {
  deviceId: string;
  added: string | null;
  revoked: string[];
  reason: BindingRevokedReason | null;
  /** The device's active bindings before the change. */
  before: string[];
  /** The device's very first binding (a new enrollment): routine, logged at info. */
  first?: boolean;
  /** The check-in that made the change, when one did. */
  messageType?: string;
  requestId?: string;
}

/**
 * What other modules may do with certificate bindings (the admin API reads the history and
 * revokes), and the one place where a change of a device's bindings is logged.
 */
@Injectable()
export class CertificateBindingsService {
  constructor(
    @Inject(CertificateBindingsRepository) private readonly bindings: CertificateBindingsRepository,
    @Inject(DatabaseService) private readonly db: DatabaseService,
    @Inject(AppLogger) private readonly logger: AppLogger,
  ) {}

  /**
   * "The device has an active (unrevoked) identity certificate and none that lasts until
   * `before`": the devices due for renewal, as a condition for another module's device list.
   */
  expiringBefore(before: Date): DeviceCondition {
    return {
      sql: (device) =>
        `EXISTS (SELECT 1 FROM certificate_bindings cb WHERE cb.device_id = ${device} AND cb.revoked_at IS NULL) ` +
        'AND NOT EXISTS (SELECT 1 FROM certificate_bindings cb2 ' +
        `WHERE cb2.device_id = ${device} AND cb2.revoked_at IS NULL AND cb2.not_after >= :certBefore)`,
      params: { certBefore: this.db.date(before) },
    };
  }

  /** Every certificate ever bound to the device, oldest first. */
  history(deviceId: string): Promise<BindingView[]> {
    return this.bindings.history(deviceId);
  }

  /** The history of each device (oldest first), for a page of devices; no entry for a device without any. */
  histories(deviceIds: readonly string[]): Promise<Map<string, BindingView[]>> {
    return this.bindings.histories(deviceIds);
  }

  /**
   * An administrator revokes one certificate of the device, for ever. `unknown` when the device
   * has no such certificate; `already` when it was revoked before (nothing changes).
   */
  async revokeByAdministrator(
    deviceId: string,
    fingerprint: string,
    now: Date,
  ): Promise<'revoked' | 'already' | 'unknown'> {
    const outcome = await this.db.transaction((tx) =>
      this.bindings.revoke(tx, deviceId, fingerprint, 'administrator', now),
    );
    if (outcome === 'revoked') {
      const active = (await this.bindings.history(deviceId))
        .filter((b) => b.revokedAt === null)
        .map((b) => b.fingerprint);
      this.logChange({
        deviceId,
        added: null,
        revoked: [fingerprint],
        reason: 'administrator',
        before: [...active, fingerprint],
      });
    }
    return outcome;
  }

  logChange(change: BindingChange): void {
    const active = change.before.filter((f) => !change.revoked.includes(f));
    // A device's first certificate is every enrollment's routine; any later change is what an
    // operator must see (renewal, a stranger adding itself, revocation).
    this.logger.emit(change.first === true ? 'info' : 'warn', 'certificate bindings changed', {
      deviceId: change.deviceId,
      ...(change.messageType !== undefined ? { messageType: change.messageType, requestId: change.requestId } : {}),
      oldFingerprints: change.before,
      newFingerprint: change.added,
      revokedFingerprints: change.revoked,
      ...(change.revoked.length > 0 ? { revokedReason: change.reason } : {}),
      activeFingerprints: change.added === null ? active : [...active, change.added],
    });
  }
}
