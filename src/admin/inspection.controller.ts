import {
  BadRequestException,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  UseGuards,
} from '@nestjs/common';
import { CertificateBindingsService } from '../device-identity/certificate-bindings.service.js';
import type { BindingRevokedReason, BindingView } from '../device-identity/certificate-bindings.service.js';
import { EnrollmentsQueries } from '../enrollments/enrollments.queries.js';
import type { DeviceView, EnrollmentView } from '../enrollments/enrollments.queries.js';
import { UserChannelsService } from '../user-channels/user-channels.service.js';
import type { UserView } from '../user-channels/user-channels.service.js';
import { ApiKeyGuard } from './api-key.guard.js';

export interface CertificateView {
  /** SHA-256 of the certificate's DER, hex. */
  fingerprint: string;
  subject: string;
  notAfter: string;
  /** When the certificate was first bound to the device. */
  boundAt: string;
  revokedAt: string | null;
  revokedReason: BindingRevokedReason | null;
  /** Whether it speaks for the device now: not revoked and not expired. */
  active: boolean;
}

export interface DeviceWithCertificates extends DeviceView {
  /** The newest active certificate (the one a renewed device uses), or null. */
  certificate: CertificateView | null;
  /** Every certificate ever bound to the device, oldest first, revoked ones included. */
  certificates: CertificateView[];
}

/** Views of devices and enrollments, and certificate revocation. Secret values are never returned. */
@Controller('api/v1')
@UseGuards(ApiKeyGuard)
export class InspectionController {
  constructor(
    @Inject(EnrollmentsQueries) private readonly queries: EnrollmentsQueries,
    @Inject(CertificateBindingsService) private readonly bindings: CertificateBindingsService,
    @Inject(UserChannelsService) private readonly userChannels: UserChannelsService,
  ) {}

  /** The device, its enrollments, and the identity certificates bound to it (never a key). */
  @Get('devices/:udid')
  async device(@Param('udid') udid: string): Promise<DeviceWithCertificates> {
    const device = await this.queries.device(udid);
    if (device === undefined) throw new NotFoundException(`no device ${udid}`);
    const now = Date.now();
    const certificates = (await this.bindings.history(udid)).map((b) => certificateView(b, now));
    const active = certificates.filter((c) => c.active);
    return { ...device, certificate: active[active.length - 1] ?? null, certificates };
  }

  /**
   * Revokes one certificate of the device: it no longer speaks for the device (nor for any
   * other), for ever. Revoking a revoked certificate changes nothing and succeeds.
   */
  @Delete('devices/:udid/certificates/:sha256')
  @HttpCode(204)
  async revokeCertificate(@Param('udid') udid: string, @Param('sha256') sha256: string): Promise<void> {
    if (!/^[0-9a-fA-F]{64}$/.test(sha256)) {
      throw new BadRequestException('the certificate is named by its SHA-256 fingerprint: 64 hex digits');
    }
    const fingerprint = sha256.toLowerCase();
    const outcome = await this.bindings.revokeByAdministrator(udid, fingerprint, new Date());
    if (outcome === 'unknown') throw new NotFoundException(`device ${udid} has no certificate ${fingerprint}`);
  }

  /** The device's users (macOS users, Shared iPad users, the User Enrollment user) and their channels. */
  @Get('devices/:udid/users')
  async users(@Param('udid') udid: string): Promise<UserView[]> {
    const users = await this.userChannels.usersOfDevice(udid);
    if (users === undefined) throw new NotFoundException(`no device ${udid}`);
    return users;
  }

  /** The id is URL-encoded: user-channel ids contain ':' and may contain '@'. */
  @Get('enrollments/:id')
  async enrollment(@Param('id') id: string): Promise<EnrollmentView> {
    const enrollment = await this.queries.enrollment(id);
    if (enrollment === undefined) throw new NotFoundException(`no enrollment ${id}`);
    return enrollment;
  }
}

function certificateView(b: BindingView, now: number): CertificateView {
  return {
    fingerprint: b.fingerprint,
    subject: b.subject,
    notAfter: b.notAfter.toISOString(),
    boundAt: b.boundAt.toISOString(),
    revokedAt: b.revokedAt?.toISOString() ?? null,
    revokedReason: b.revokedReason,
    active: b.revokedAt === null && b.notAfter.getTime() > now,
  };
}
