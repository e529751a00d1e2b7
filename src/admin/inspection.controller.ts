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
import {
  ApiBadRequestResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { CertificateBindingsService } from '../device-identity/certificate-bindings.service.js';
import type { BindingRevokedReason, BindingView } from '../device-identity/certificate-bindings.service.js';
import { EnrollmentsQueries } from '../enrollments/enrollments.queries.js';
import type { DeviceView, EnrollmentView } from '../enrollments/enrollments.queries.js';
import { UserChannelsService } from '../user-channels/user-channels.service.js';
import type { UserView } from '../user-channels/user-channels.service.js';
import {
  ADMIN_DISABLED_EXAMPLE,
  ApiAdminCommon,
  DeviceViewBody,
  EnrollmentViewBody,
  HttpErrorBody,
  UserViewBody,
} from './admin.responses.js';
import { ApiKeyGuard } from './api-key.guard.js';

const UDID_PARAM = {
  name: 'udid',
  description: 'The device’s UDID (or the EnrollmentID of a User Enrollment’s device side), URL-encoded.',
  example: '564D2E7A-3B1F-5C9E-8A46-D2F1B7E0C3A9',
};
const NOT_FOUND = 'or the admin API is disabled (ADMIN_API_KEY not set).';

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
@ApiTags('admin')
@ApiAdminCommon()
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
  @ApiOperation({
    operationId: 'getDevice',
    summary: 'A device, its enrollments and its identity certificates',
    description:
      'Looked up by the device record’s key: the UDID, or for User Enrollment the EnrollmentID of the device side.',
  })
  @ApiParam(UDID_PARAM)
  @ApiOkResponse({ description: 'The device.', type: DeviceViewBody })
  @ApiNotFoundResponse({
    description: `No such device, ${NOT_FOUND}`,
    type: HttpErrorBody,
    examples: {
      unknown: {
        summary: 'No such device',
        value: { statusCode: 404, error: 'Not Found', message: 'no device 564D2E7A-3B1F-5C9E-8A46-D2F1B7E0C3A9' },
      },
      disabled: ADMIN_DISABLED_EXAMPLE,
    },
  })
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
  @ApiOperation({
    operationId: 'revokeDeviceCertificate',
    summary: 'Revoke one of a device’s identity certificates',
    description:
      'The certificate stops speaking for the device at once and for good: every check-in with it, a replayed ' +
      'Authenticate included, gets 403 and changes nothing, and it can never be bound to another device. The ' +
      'binding stays in the device’s history with `revokedReason: administrator`. Revoking a revoked certificate ' +
      'changes nothing and answers 204. A device whose certificates are all revoked must enroll again with a new ' +
      'one. The change is logged at warn.',
  })
  @ApiParam(UDID_PARAM)
  @ApiParam({
    name: 'sha256',
    description: 'The certificate’s SHA-256 fingerprint (of its DER), 64 hex digits, either case.',
    schema: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
  })
  @ApiNoContentResponse({ description: 'The certificate is revoked for the device.' })
  @ApiBadRequestResponse({ description: 'The fingerprint is not 64 hex digits.', type: HttpErrorBody })
  @ApiNotFoundResponse({
    description: `The device is unknown or has no such certificate, ${NOT_FOUND}`,
    type: HttpErrorBody,
  })
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
  @ApiOperation({
    operationId: 'getDeviceUsers',
    summary: 'The users of a device and their user channels',
    description:
      'macOS users, Shared iPad users (Managed Apple Accounts) and the user side of a User Enrollment, with their ' +
      'channel’s state, oldest first.',
  })
  @ApiParam(UDID_PARAM)
  @ApiOkResponse({ description: 'The users, oldest first.', type: [UserViewBody] })
  @ApiNotFoundResponse({ description: `No such device, ${NOT_FOUND}`, type: HttpErrorBody })
  async users(@Param('udid') udid: string): Promise<UserView[]> {
    const users = await this.userChannels.usersOfDevice(udid);
    if (users === undefined) throw new NotFoundException(`no device ${udid}`);
    return users;
  }

  /** The id is URL-encoded: user-channel ids contain ':' and may contain '@'. */
  @Get('enrollments/:id')
  @ApiOperation({ operationId: 'getEnrollment', summary: 'One enrollment (device channel or user channel)' })
  @ApiParam({
    name: 'id',
    description:
      'The enrollment id, URL-encoded: user-channel ids contain `:` and may contain `@` (`UDID:UserID` becomes ' +
      '`UDID%3AUserID`). Ids follow the convention UDID | EnrollmentID | EnrollmentID:EnrollmentUserID | ' +
      'UDID:UserID | UDID:UserShortName.',
    example: '564D2E7A-3B1F-5C9E-8A46-D2F1B7E0C3A9:8D2B6C1E-0F3A-4E59-B7C4-1A2B3C4D5E6F',
  })
  @ApiOkResponse({ description: 'The enrollment.', type: EnrollmentViewBody })
  @ApiNotFoundResponse({
    description: `No such enrollment, ${NOT_FOUND}`,
    type: HttpErrorBody,
    examples: {
      unknown: {
        summary: 'No such enrollment',
        value: { statusCode: 404, error: 'Not Found', message: 'no enrollment 564D2E7A-3B1F-5C9E-8A46-D2F1B7E0C3A9' },
      },
      disabled: ADMIN_DISABLED_EXAMPLE,
    },
  })
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
