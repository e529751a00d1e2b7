import type { DeviceCondition } from '../common/device-condition.js';
import {
  applyDecorators,
  BadRequestException,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Query,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { ApiQueryOptions } from '@nestjs/swagger';
import type { Page } from '../common/keyset-page.js';
import { ENROLLMENT_TYPES } from '../checkin/enrollment-id.js';
import { CertificateBindingsService } from '../device-identity/certificate-bindings.service.js';
import type { BindingRevokedReason, BindingView } from '../device-identity/certificate-bindings.service.js';
import { EnrollmentsQueries } from '../enrollments/enrollments.queries.js';
import type { DeviceView, EnrollmentView } from '../enrollments/enrollments.queries.js';
import { UserChannelsService } from '../user-channels/user-channels.service.js';
import type { UserView } from '../user-channels/user-channels.service.js';
import {
  ADMIN_DISABLED_EXAMPLE,
  ApiAdminCommon,
  DevicePageBody,
  DeviceViewBody,
  EnrollmentPageBody,
  EnrollmentViewBody,
  HttpErrorBody,
  UserPageBody,
  UserViewBody,
} from './admin.responses.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { encodeCursor, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, parseListQuery } from './list-query.js';
import type { FilterName, RawQuery } from './list-query.js';

const UDID_PARAM = {
  name: 'udid',
  description: 'The device’s UDID (or the EnrollmentID of a User Enrollment’s device side), URL-encoded.',
  example: '564D2E7A-3B1F-5C9E-8A46-D2F1B7E0C3A9',
};
const NOT_FOUND = 'or the admin API is disabled (ADMIN_API_KEY not set).';

/** One page of a list, as the API answers it. */
export interface ListAnswer<T> {
  items: T[];
  nextCursor?: string;
}

const dateTimeQuery = { type: 'string', format: 'date-time' } as const;
/** The description of every filter, for the resources it applies to. */
const FILTER_DOCS: Record<FilterName, ApiQueryOptions> = {
  type: { name: 'type', description: 'Only this enrollment type.' },
  enabled: { name: 'enabled', schema: { type: 'boolean' }, description: 'Only enabled (or disabled) channels.' },
  awaitingConfiguration: {
    name: 'awaitingConfiguration',
    schema: { type: 'boolean' },
    description: 'Only channels (not) awaiting DeviceConfigured.',
  },
  topic: { name: 'topic', schema: { type: 'string' }, description: 'Only this push topic.' },
  serialNumber: { name: 'serialNumber', schema: { type: 'string' }, description: 'Only this serial number.' },
  deviceId: {
    name: 'deviceId',
    schema: { type: 'string' },
    description: 'Only those of this device (UDID, or EnrollmentID for User Enrollment).',
  },
  tokenUpdateCount: {
    name: 'tokenUpdateCount',
    schema: { type: 'integer', minimum: 0 },
    description: 'Only this many TokenUpdates since the last (re-)enrollment: `1` lists the newly enrolled.',
  },
  updatedSince: {
    name: 'updatedSince',
    schema: dateTimeQuery,
    description: 'Only those changed at or after this instant (ISO 8601 with a time zone).',
  },
  certificateExpiresBefore: {
    name: 'certificateExpiresBefore',
    schema: dateTimeQuery,
    description:
      'Only devices (for enrollments: the enrollments of devices) with an active identity certificate and none ' +
      'valid until this instant (ISO 8601 with a time ' +
      'zone): the devices whose identity must be renewed by then.',
  },
};

/** The documentation of a list route: paging, the filters that apply to it, 400. */
function ApiList(resource: string, filters: readonly FilterName[], typeEnum: readonly string[] = []) {
  const decorators = [
    ApiQuery({
      name: 'limit',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: LIST_LIMIT_MAX, default: LIST_LIMIT_DEFAULT },
      description: 'Rows in a page.',
    }),
    ApiQuery({
      name: 'sort',
      required: false,
      schema: { type: 'string', enum: ['id', 'updatedAt'], default: 'id' },
      description:
        'By `id` (stable while paging: a row written meanwhile is neither skipped nor repeated), or by `updatedAt` ' +
        'then id (a row changed while paging moves to the end and may be seen twice).',
    }),
    ApiQuery({
      name: 'cursor',
      required: false,
      schema: { type: 'string' },
      description: 'The `nextCursor` of the previous page, with the same `sort`.',
    }),
    ...filters.map((f) =>
      ApiQuery({
        required: false,
        ...FILTER_DOCS[f],
        ...(f === 'type' ? { schema: { type: 'string', enum: [...typeEnum] } } : {}),
      }),
    ),
    ApiBadRequestResponse({
      description:
        `A bad value, a malformed cursor, \`limit\` outside 1..${LIST_LIMIT_MAX}, or a parameter that does not ` +
        `apply to ${resource} (${filters.join(', ')} do).`,
      type: HttpErrorBody,
      example: {
        statusCode: 400,
        error: 'Bad Request',
        message: `limit must be an integer from 1 to ${LIST_LIMIT_MAX}`,
      },
    }),
    ApiNotFoundResponse({ description: `The admin API is disabled (ADMIN_API_KEY not set).`, type: HttpErrorBody }),
  ];
  return applyDecorators(...decorators);
}

function answer<T>(page: Page<T>, sort: 'id' | 'updatedAt'): ListAnswer<T> {
  return page.next === undefined
    ? { items: page.items }
    : { items: page.items, nextCursor: encodeCursor(sort, page.next) };
}

const DEVICE_FILTERS: FilterName[] = ['serialNumber', 'updatedSince', 'certificateExpiresBefore'];
const ENROLLMENT_FILTERS: FilterName[] = [
  'type',
  'enabled',
  'awaitingConfiguration',
  'topic',
  'deviceId',
  'tokenUpdateCount',
  'updatedSince',
  'certificateExpiresBefore',
];
const USER_FILTERS: FilterName[] = ['type', 'deviceId', 'updatedSince'];
const USER_TYPES = ['User', 'Shared iPad', 'User Enrollment'] as const;

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

  /** certificateExpiresBefore becomes device-identity's condition on the device, for the enrollments module's lists. */
  private withDeviceCondition<F extends { certificateExpiresBefore?: Date }>(
    filters: F,
  ): Omit<F, 'certificateExpiresBefore'> & { device?: DeviceCondition } {
    const { certificateExpiresBefore, ...rest } = filters;
    return certificateExpiresBefore === undefined
      ? rest
      : { ...rest, device: this.bindings.expiringBefore(certificateExpiresBefore) };
  }

  /** Devices by id or updatedAt, a page at a time, each as `GET devices/{udid}` shows it. */
  @Get('devices')
  @ApiOperation({
    operationId: 'listDevices',
    summary: 'List devices',
    description: `Filters: ${DEVICE_FILTERS.join(', ')}. Each item is what getDevice answers.`,
  })
  @ApiList('devices', DEVICE_FILTERS)
  @ApiOkResponse({ description: 'One page of devices.', type: DevicePageBody })
  async listDevices(@Query() query: RawQuery): Promise<ListAnswer<DeviceWithCertificates>> {
    const { page, filters } = parseListQuery(query, 'devices', DEVICE_FILTERS);
    const devices = await this.queries.listDevices(this.withDeviceCondition(filters), page);
    const histories = await this.bindings.histories(devices.items.map((d) => d.udid));
    const now = Date.now();
    const items = devices.items.map((d) => withCertificates(d, histories.get(d.udid) ?? [], now));
    return answer({ items, next: devices.next }, page.sort);
  }

  /** Enrollments (device and user channels) by id or updatedAt, a page at a time. */
  @Get('enrollments')
  @ApiOperation({
    operationId: 'listEnrollments',
    summary: 'List enrollments (device and user channels)',
    description: `Filters: ${ENROLLMENT_FILTERS.join(', ')}. Each item is what getEnrollment answers.`,
  })
  @ApiList('enrollments', ENROLLMENT_FILTERS, ENROLLMENT_TYPES)
  @ApiOkResponse({ description: 'One page of enrollments.', type: EnrollmentPageBody })
  async listEnrollments(@Query() query: RawQuery): Promise<ListAnswer<EnrollmentView>> {
    const { page, filters } = parseListQuery(query, 'enrollments', ENROLLMENT_FILTERS);
    return answer(await this.queries.listEnrollments(this.withDeviceCondition(filters), page), page.sort);
  }

  /** The users of every device (macOS, Shared iPad, User Enrollment), a page at a time. */
  @Get('users')
  @ApiOperation({
    operationId: 'listUsers',
    summary: 'List the users of all devices',
    description: `Filters: ${USER_FILTERS.join(', ')}. Each item is what getDeviceUsers answers for one user; its id is the user channel’s enrollment id.`,
  })
  @ApiList('users', USER_FILTERS, USER_TYPES)
  @ApiOkResponse({ description: 'One page of users.', type: UserPageBody })
  async listUsers(@Query() query: RawQuery): Promise<ListAnswer<UserView>> {
    const { page, filters } = parseListQuery(query, 'users', USER_FILTERS, USER_TYPES);
    return answer(await this.userChannels.listUsers(filters, page), page.sort);
  }

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
    return withCertificates(device, await this.bindings.history(udid), Date.now());
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

function withCertificates(device: DeviceView, history: BindingView[], now: number): DeviceWithCertificates {
  const certificates = history.map((b) => certificateView(b, now));
  const active = certificates.filter((c) => c.active);
  return { ...device, certificate: active[active.length - 1] ?? null, certificates };
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
