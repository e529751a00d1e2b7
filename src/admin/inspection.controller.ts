import { Controller, Get, Inject, NotFoundException, Param, UseGuards } from '@nestjs/common';
import { CertificateBindingsRepository } from '../device-identity/certificate-bindings.repository.js';
import { EnrollmentsQueries } from '../enrollments/enrollments.queries.js';
import type { DeviceView, EnrollmentView, UserView } from '../enrollments/enrollments.queries.js';
import { ApiKeyGuard } from './api-key.guard.js';

export interface CertificateView {
  /** SHA-256 of the certificate's DER, hex. */
  fingerprint: string;
  subject: string;
  notAfter: string;
  /** When this certificate was bound (the last Authenticate that brought it). */
  boundAt: string;
}

/** Read-only views of devices and enrollments. Secret values are never returned. */
@Controller('api/v1')
@UseGuards(ApiKeyGuard)
export class InspectionController {
  constructor(
    @Inject(EnrollmentsQueries) private readonly queries: EnrollmentsQueries,
    @Inject(CertificateBindingsRepository) private readonly bindings: CertificateBindingsRepository,
  ) {}

  /** The device, its enrollments, and the identity certificate bound to it (never the key). */
  @Get('devices/:udid')
  async device(@Param('udid') udid: string): Promise<DeviceView & { certificate: CertificateView | null }> {
    const device = await this.queries.device(udid);
    if (device === undefined) throw new NotFoundException(`no device ${udid}`);
    const binding = await this.bindings.view(udid);
    return {
      ...device,
      certificate:
        binding === undefined
          ? null
          : {
              fingerprint: binding.fingerprint,
              subject: binding.subject,
              notAfter: binding.notAfter.toISOString(),
              boundAt: binding.updatedAt.toISOString(),
            },
    };
  }

  /** The device's users (macOS users, Shared iPad users, the User Enrollment user) and their channels. */
  @Get('devices/:udid/users')
  async users(@Param('udid') udid: string): Promise<UserView[]> {
    const users = await this.queries.users(udid);
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
