import { Inject, Injectable } from '@nestjs/common';
import { CheckinError, CheckinErrorCode } from '../checkin/checkin.errors.js';
import type { CheckinContext, CheckinMiddleware, CheckinResult } from '../checkin/checkin.types.js';
import { APP_CONFIG } from '../config/config.js';
import type { AppConfig } from '../config/config.js';
import { EnrollmentsService } from '../enrollments/enrollments.service.js';
import { DatabaseService, isUniqueViolation } from '../database/database.service.js';
import { CertificateBindingsRepository } from './certificate-bindings.repository.js';

/**
 * Certificate binding ("cert auth" in the Go servers): the certificate of an Authenticate is
 * bound to the device, and every later message of that device — and of its user channels —
 * must come with that same certificate. A certificate bound to another device is refused
 * (no reuse), so a valid identity cannot speak for someone else's UDID. A fresh Authenticate
 * with a new certificate re-binds (re-enrollment). An Authenticate's binding commits in the
 * handler's transaction; other checks happen before the handler; a refused message binds
 * nothing.
 */
@Injectable()
export class CertificateBindingMiddleware implements CheckinMiddleware {
  readonly name = 'certificate-binding';
  private readonly retro: boolean;

  constructor(
    @Inject(CertificateBindingsRepository) private readonly bindings: CertificateBindingsRepository,
    @Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService,
    @Inject(DatabaseService) private readonly db: DatabaseService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.retro = config.deviceIdentity.bindRetroactively;
  }

  async handle(_message: object, ctx: CheckinContext, next: () => Promise<CheckinResult>): Promise<CheckinResult> {
    const cert = ctx.certificate;
    if (cert === null) return next();
    const deviceId = ctx.enrollment.deviceId;
    ctx.logFields.certificate = cert.fingerprint.slice(0, 16);

    if (ctx.messageType === 'Authenticate') {
      // Bound in the handler's own transaction: the device and its binding commit together,
      // and a certificate bound to another device (unique fingerprint) rolls both back.
      ctx.transactionalWrites.add((tx) => this.bindings.bind(tx, deviceId, cert, ctx.receivedAt, true));
      let result: CheckinResult;
      try {
        result = await next();
      } catch (err) {
        if (isUniqueViolation(err)) throw reused();
        throw err;
      }
      if (ctx.transactionalWrites.pending) await this.write(deviceId, cert, ctx, true);
      ctx.logFields.certificateBound = true;
      return result;
    }

    const bound = await this.bindings.fingerprintOf(deviceId);
    if (bound === cert.fingerprint) return next();
    if (bound !== undefined) {
      throw new CheckinError(CheckinErrorCode.Forbidden, `the certificate is not the one bound to ${deviceId}`);
    }
    // Nothing bound: an unknown device gets the handler's own answer (400); a device
    // migrated from another server is bound now when DEVICE_CERT_BIND_RETRO allows it.
    if (!(await this.enrollments.deviceExists(deviceId))) return next();
    if (!this.retro) {
      throw new CheckinError(
        CheckinErrorCode.Forbidden,
        `no certificate is bound to ${deviceId}: the device must enroll again (or set DEVICE_CERT_BIND_RETRO=true for migrated devices)`,
      );
    }
    await this.refuseIfOwnedByAnother(cert.fingerprint, deviceId);
    const result = await next();
    await this.write(deviceId, cert, ctx, false);
    ctx.logFields.certificateBound = 'retroactively';
    return result;
  }

  private async refuseIfOwnedByAnother(fingerprint: string, deviceId: string): Promise<void> {
    const owner = await this.bindings.ownerOf(fingerprint);
    if (owner !== undefined && owner !== deviceId) throw reused();
  }

  private async write(
    deviceId: string,
    cert: NonNullable<CheckinContext['certificate']>,
    ctx: CheckinContext,
    replace: boolean,
  ): Promise<void> {
    try {
      await this.db.transaction((tx) => this.bindings.bind(tx, deviceId, cert, ctx.receivedAt, replace));
    } catch (err) {
      // Lost a race with another device binding the same certificate, or (retro) with the
      // device's own first binding: the handler's writes stand, the binding does not.
      if (isUniqueViolation(err)) throw reused();
      throw err;
    }
  }
}

function reused(): CheckinError {
  return new CheckinError(CheckinErrorCode.Forbidden, 'the certificate is already bound to another device');
}
