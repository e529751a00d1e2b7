import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { WriteGuardUnmet } from '../common/write-guard.js';
import type { WriteGuard } from '../common/write-guard.js';
import type { DeviceCertMatch } from '../config/config.js';
import { deviceIdentityConfig } from '../config/namespaces.js';
import { DatabaseService, isUniqueViolation } from '../database/database.service.js';
import type { SqlRunner } from '../database/database.service.js';
import { EnrollmentsService } from '../enrollments/enrollments.service.js';
import { CertificateBindingsRepository } from './certificate-bindings.repository.js';
import { CertificateBindingsService } from './certificate-bindings.service.js';
import type { BindingChange as ServiceBindingChange } from './certificate-bindings.service.js';
import type { BindingState } from './certificate-bindings.repository.js';
import { namesInclude } from './certificate-names.js';
import { IdentityError } from './certificate-verifier.js';
import type { VerifiedCertificate } from './certificate-verifier.js';

/** A change of the device's bindings, before the service adds who made it. */
type BindingChange = Omit<ServiceBindingChange, 'deviceId' | 'messageType' | 'requestId'>;

/**
 * What the binding needs to know of a check-in. The check-in pipeline's context has all of it
 * (this module does not import the pipeline: AppModule plugs this middleware into it).
 */
export interface BindingContext {
  readonly messageType: string;
  readonly enrollment: { readonly deviceId: string; readonly channel: 'device' | 'user' };
  readonly requestId: string;
  readonly receivedAt: Date;
  /** The verified certificate; `null` when identities are not checked (DEVICE_AUTH=none). */
  readonly certificate: VerifiedCertificate | null;
  /** Added to the request's log line. */
  readonly logFields: Record<string, unknown>;
  /** Whether the handler takes the check as a guard on its write instead (see WriteGuard in common/write-guard.ts). */
  readonly foldsWriteGuard: boolean;
  /** Set here for such a handler. */
  writeGuard?: WriteGuard;
}

/**
 * A message the binding rules refuse: `forbidden` (403: not this device's certificate) or
 * `retry` (503: an overlapping message of the same device won a race; sending again succeeds).
 */
export class CertificateBindingError extends Error {
  constructor(
    readonly kind: 'forbidden' | 'retry',
    message: string,
  ) {
    super(message);
    this.name = 'CertificateBindingError';
  }
}

/**
 * Certificate binding ("cert auth" in the Go servers): every message of a device, and of its
 * user channels, must come with a certificate bound to that device.
 *
 * - Authenticate with a new certificate *adds* it: the device's other certificates keep
 *   working (identity renewal), so a stranger's certificate from the same CA cannot lock the
 *   genuine device out. With DEVICE_CERT_MATCH the certificate must name the device, and a
 *   new one that does replaces the others (it proves the owner).
 * - A binding ends when the certificate expires, when an administrator revokes it, when a
 *   matching certificate replaces it, or (the others than the sender's) at the device
 *   channel's CheckOut. A revoked binding stays revoked: an Authenticate replayed with that
 *   certificate gets 403 and restores nothing.
 * - A certificate belongs to one device for ever; any other device gets 403.
 *
 * Binding writes commit in the message's own transaction; every refusal happens before the
 * handler or rolls its transaction back, so a refused message changes nothing.
 */
@Injectable()
export class CertificateBindingMiddleware {
  readonly name = 'certificate-binding';
  private readonly retro: boolean;
  private readonly match: DeviceCertMatch;

  constructor(
    @Inject(CertificateBindingsRepository) private readonly bindings: CertificateBindingsRepository,
    @Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService,
    @Inject(DatabaseService) private readonly db: DatabaseService,
    @Inject(CertificateBindingsService) private readonly changes: CertificateBindingsService,
    @Inject(deviceIdentityConfig.KEY) config: ConfigType<typeof deviceIdentityConfig>,
  ) {
    this.retro = config.bindRetroactively;
    this.match = config.certMatch;
  }

  async handle<R>(message: object, ctx: BindingContext, next: () => Promise<R>): Promise<R> {
    const cert = ctx.certificate;
    if (cert === null) return next();
    const deviceId = ctx.enrollment.deviceId;
    ctx.logFields.certificate = cert.fingerprint.slice(0, 16);
    await this.requireMatch(message, ctx, cert);
    if (ctx.messageType === 'Authenticate') return this.authenticate(ctx, cert, next);
    if (ctx.foldsWriteGuard && !(ctx.messageType === 'CheckOut' && ctx.enrollment.channel === 'device')) {
      // The common case (a bound certificate) costs no read of its own: the handler writes
      // only where the binding holds, in the same statement. Otherwise nothing was written
      // and the full check below decides.
      ctx.writeGuard = this.bindings.activeBindingGuard(deviceId, cert.fingerprint);
      try {
        return await next();
      } catch (err) {
        if (!(err instanceof WriteGuardUnmet)) throw err;
      } finally {
        ctx.writeGuard = undefined;
      }
    }

    const all = await this.bindings.ofDevice(this.db, deviceId);
    const mine = all.find((b) => b.fingerprint === cert.fingerprint);
    if (mine !== undefined) {
      if (mine.revoked) throw revoked(deviceId);
      if (ctx.messageType === 'CheckOut' && ctx.enrollment.channel === 'device') return this.checkOut(ctx, cert, next);
      return next();
    }
    if (all.some((b) => !b.revoked)) {
      throw new IdentityError(403, `the certificate is not one of those bound to ${deviceId}`, 'certificate_not_bound');
    }
    if (all.length > 0) {
      throw new IdentityError(
        403,
        `every certificate bound to ${deviceId} was revoked: the device must enroll again (Authenticate)`,
        'certificate_not_bound',
      );
    }
    // Never bound: an unknown device gets the handler's own answer (400); a device migrated
    // from another server is bound now when DEVICE_CERT_BIND_RETRO allows it.
    if (!(await this.enrollments.deviceExists(deviceId))) return next();
    if (!this.retro) {
      throw new IdentityError(
        403,
        `no certificate is bound to ${deviceId}: the device must enroll again (or set DEVICE_CERT_BIND_RETRO=true for migrated devices)`,
        'certificate_not_bound',
      );
    }
    // Bound since the read above: by this device's own overlapping message, or to another device.
    const owner = await this.bindings.byFingerprint(this.db, cert.fingerprint);
    if (owner !== undefined) throw raceLost(owner, deviceId);
    const result = await this.inOneTransaction(deviceId, cert.fingerprint, async (tx) => {
      const r = await next();
      await this.bindings.add(tx, deviceId, cert, ctx.receivedAt);
      return r;
    });
    ctx.logFields.certificateBound = 'retroactively';
    this.logChange(ctx, { added: cert.fingerprint, revoked: [], reason: null, before: [] });
    return result;
  }

  /** The certificate must name the device it speaks for (DEVICE_CERT_MATCH); 403 before anything is written. */
  private async requireMatch(message: object, ctx: BindingContext, cert: VerifiedCertificate): Promise<void> {
    if (this.match === 'none') return;
    const deviceId = ctx.enrollment.deviceId;
    if (this.match !== 'serial' && namesInclude(cert.names, deviceId)) return;
    if (this.match !== 'udid') {
      // The serial the server already knows wins: otherwise a certificate naming the
      // attacker's own serial could take over another UDID by claiming that serial.
      const stored = await this.enrollments.deviceSerialNumber(deviceId);
      const sent = (message as { SerialNumber?: unknown }).SerialNumber;
      // The one sent counts only for a device the server does not know yet: a known device
      // that never told its serial (User Enrollment never does) has none to match.
      const serial =
        stored !== undefined
          ? (stored ?? undefined)
          : ctx.messageType === 'Authenticate' && typeof sent === 'string'
            ? sent
            : undefined;
      if (namesInclude(cert.names, serial)) return;
    }
    const wanted = { udid: 'UDID', serial: 'serial number', 'udid-or-serial': 'UDID or serial number' }[this.match];
    throw new IdentityError(
      403,
      `the certificate does not name the device's ${wanted} (DEVICE_CERT_MATCH=${this.match})`,
      'certificate_name_mismatch',
    );
  }

  /** Authenticate: the binding is written in the handler's transaction, after the device. */
  private async authenticate<R>(ctx: BindingContext, cert: VerifiedCertificate, next: () => Promise<R>): Promise<R> {
    const deviceId = ctx.enrollment.deviceId;
    // Checked inside the transaction (one read), where a refusal rolls the device's writes
    // back and the primary key settles a race; a refusal is rare, so no read before.
    let change: BindingChange | undefined;
    const result = await this.inOneTransaction(deviceId, cert.fingerprint, async (tx) => {
      const r = await next();
      change = await this.bindOnAuthenticate(tx, deviceId, cert, ctx.receivedAt);
      return r;
    });
    ctx.logFields.certificateBound = true;
    if (change !== undefined) this.logChange(ctx, change);
    return result;
  }

  private async bindOnAuthenticate(
    tx: SqlRunner,
    deviceId: string,
    cert: VerifiedCertificate,
    now: Date,
  ): Promise<BindingChange | undefined> {
    const rows = await this.bindings.ofDeviceOrCertificate(tx, deviceId, cert.fingerprint);
    const mine = rows.find((b) => b.fingerprint === cert.fingerprint);
    refuseForeignOrRevoked(mine, deviceId);
    const all = rows.filter((b) => b.deviceId === deviceId);
    const before = all.filter((b) => !b.revoked).map((b) => b.fingerprint);
    const added = mine === undefined;
    if (added) await this.bindings.add(tx, deviceId, cert, now);
    // Only a certificate that names the device may push the others out.
    const revokedNow =
      this.match === 'none' ? [] : await this.bindings.revokeOthers(tx, deviceId, cert.fingerprint, 'replaced', now);
    if (!added && revokedNow.length === 0) return undefined;
    return {
      added: added ? cert.fingerprint : null,
      revoked: revokedNow,
      reason: 'replaced',
      before,
      first: all.length === 0,
    };
  }

  /**
   * The device leaves: under a match rule, the certificates other than the one it checked out
   * with stop, with its enrollments. Under `none` nothing is revoked: the CheckOut may come from
   * a stranger holding another certificate of the CA (which an Authenticate can add), and on its
   * word the genuine device would be locked out for good; its enrollments are disabled either
   * way, and the device's next TokenUpdate enables them again.
   */
  private async checkOut<R>(ctx: BindingContext, cert: VerifiedCertificate, next: () => Promise<R>): Promise<R> {
    if (this.match === 'none') return next();
    const deviceId = ctx.enrollment.deviceId;
    let revokedNow: string[] = [];
    const result = await this.inOneTransaction(deviceId, cert.fingerprint, async (tx) => {
      const r = await next();
      revokedNow = await this.bindings.revokeOthers(tx, deviceId, cert.fingerprint, 'checkout', ctx.receivedAt);
      return r;
    });
    if (revokedNow.length > 0) {
      this.logChange(ctx, {
        added: null,
        revoked: revokedNow,
        reason: 'checkout',
        before: [cert.fingerprint, ...revokedNow],
      });
    }
    return result;
  }

  /** Runs the handler and `work`'s writes in one transaction that the handler's own transactions join. */
  private async inOneTransaction<T>(
    deviceId: string,
    fingerprint: string,
    work: (tx: SqlRunner) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.db.enclosingTransaction(work);
    } catch (err) {
      // Lost a race binding the same certificate (retro): nothing stands.
      if (isUniqueViolation(err)) throw raceLost(await this.bindings.byFingerprint(this.db, fingerprint), deviceId);
      throw err;
    }
  }

  private logChange(ctx: BindingContext, change: BindingChange): void {
    this.changes.logChange({
      ...change,
      deviceId: ctx.enrollment.deviceId,
      messageType: ctx.messageType,
      requestId: ctx.requestId,
    });
  }
}

function refuseForeignOrRevoked(binding: BindingState | undefined, deviceId: string): void {
  if (binding === undefined) return;
  if (binding.deviceId !== deviceId) throw reused();
  if (binding.revoked) throw revoked(deviceId);
}

function revoked(deviceId: string): IdentityError {
  return new IdentityError(403, `the certificate was revoked for ${deviceId}`, 'certificate_revoked');
}

/**
 * The certificate's binding appeared while this message was being handled (everything the
 * message wrote was rolled back). Bound to another device: refused for good (403). Bound to this
 * very device (an overlapping message of its own, or a retry of this one): nothing is wrong
 * with the device, so a 503 asks it to send the message again, when it finds its binding.
 */
function raceLost(winner: { deviceId: string } | undefined, deviceId: string): CertificateBindingError | IdentityError {
  if (winner?.deviceId !== deviceId) return reused();
  return new CertificateBindingError(
    'retry',
    'an overlapping message of this device bound the same certificate; send it again',
  );
}

function reused(): IdentityError {
  return new IdentityError(403, 'the certificate is already bound to another device', 'certificate_other_device');
}
