import { applyDecorators } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiInternalServerErrorResponse,
  ApiProperty,
  ApiSchema,
  ApiServiceUnavailableResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { ENROLLMENT_TYPES } from '../checkin/enrollment-id.js';
import type { EnrollmentType } from '../checkin/enrollment-id.js';
import type { BindingRevokedReason } from '../device-identity/certificate-bindings.service.js';
import type { DeviceView, EnrollmentView } from '../enrollments/enrollments.queries.js';
import type { UserView } from '../user-channels/user-channels.service.js';

/** The security scheme of every /api route: see ApiKeyGuard. */
export const ADMIN_SECURITY = 'adminApiKey';

const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableString = { type: String, nullable: true } as const;
const UDID_EXAMPLE = '564D2E7A-3B1F-5C9E-8A46-D2F1B7E0C3A9';

/** Nest's error body (HttpException). */
@ApiSchema({ name: 'HttpError', description: "NestJS's error body." })
export class HttpErrorBody {
  @ApiProperty({ type: 'integer', example: 404 })
  statusCode: number;

  @ApiProperty({ example: 'Not Found' })
  error: string;

  @ApiProperty({ example: `no device ${UDID_EXAMPLE}` })
  message: string;
}

/** What Nest answers for an unexpected exception: no `error` field, and no details. */
@ApiSchema({ name: 'InternalError', description: 'An unexpected failure of the server; details are only in the log.' })
export class InternalErrorBody {
  @ApiProperty({ type: 'integer', enum: [500] })
  statusCode: number;

  @ApiProperty({ example: 'Internal server error' })
  message: string;
}

@ApiSchema({
  name: 'EnrollmentView',
  description: 'One MDM channel with its own push credentials. Secret values are never included.',
})
export class EnrollmentViewBody implements EnrollmentView {
  @ApiProperty({
    description: 'UDID | EnrollmentID | EnrollmentID:EnrollmentUserID | UDID:UserID | UDID:UserShortName',
    example: UDID_EXAMPLE,
  })
  id: string;

  @ApiProperty({ enum: ENROLLMENT_TYPES, enumName: 'EnrollmentType' })
  type: EnrollmentType;

  @ApiProperty({ description: 'The device record’s key (UDID, or EnrollmentID for User Enrollment).' })
  deviceId: string;

  @ApiProperty({
    ...nullableString,
    description: 'For a user channel, the device channel’s enrollment id; null on the device channel.',
  })
  parentId: string | null;

  @ApiProperty({
    description: 'The APNs push topic.',
    example: 'com.apple.mgmt.External.0c3b5d2e-3f6a-4b8e-9d41-2a7c8e5f1b90',
  })
  topic: string;

  @ApiProperty()
  pushMagic: string;

  @ApiProperty({
    pattern: '^[0-9a-f]*$',
    description: 'The APNs device token in lower-case hex, as push providers expect it.',
  })
  token: string;

  @ApiProperty({ description: 'False after CheckOut, or after a re-enrollment until the next TokenUpdate.' })
  enabled: boolean;

  @ApiProperty()
  awaitingConfiguration: boolean;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: 'TokenUpdates since the last (re-)enrollment; 1 means the first one.',
  })
  tokenUpdateCount: number;

  @ApiProperty({ description: 'Whether the device holds an UnlockToken; always false for user channels.' })
  hasUnlockToken: boolean;

  @ApiProperty(dateTime)
  lastSeenAt: string;

  @ApiProperty(dateTime)
  createdAt: string;

  @ApiProperty(dateTime)
  updatedAt: string;
}

@ApiSchema({
  name: 'CertificateBinding',
  description: 'One identity certificate bound to a device, and how its binding ended.',
})
export class CertificateBindingBody {
  @ApiProperty({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the certificate’s DER, lower-case hex.' })
  fingerprint: string;

  @ApiProperty({ example: `CN=${UDID_EXAMPLE}` })
  subject: string;

  @ApiProperty(dateTime)
  notAfter: string;

  @ApiProperty({ ...dateTime, description: 'When the certificate was first bound to the device.' })
  boundAt: string;

  @ApiProperty({ ...dateTime, nullable: true })
  revokedAt: string | null;

  @ApiProperty({
    type: String,
    enum: ['administrator', 'replaced', 'checkout'],
    nullable: true,
    description:
      'administrator (DELETE on the certificate), replaced (a new certificate naming the device under ' +
      'DEVICE_CERT_MATCH), checkout (the device checked out with another of its certificates); null while not revoked.',
  })
  revokedReason: BindingRevokedReason | null;

  @ApiProperty({ description: 'Whether it speaks for the device now (not revoked, not expired).' })
  active: boolean;
}

@ApiSchema({
  name: 'DeviceView',
  description:
    'A device, what it reported in Authenticate, its enrollments and certificates. Secret values are never included.',
})
export class DeviceViewBody implements DeviceView {
  @ApiProperty({
    description: 'The device record’s key (UDID, or EnrollmentID for User Enrollment).',
    example: UDID_EXAMPLE,
  })
  udid: string;

  @ApiProperty(nullableString)
  serialNumber: string | null;

  @ApiProperty(nullableString)
  model: string | null;

  @ApiProperty(nullableString)
  modelName: string | null;

  @ApiProperty(nullableString)
  osVersion: string | null;

  @ApiProperty(nullableString)
  productName: string | null;

  @ApiProperty(nullableString)
  buildVersion: string | null;

  @ApiProperty(nullableString)
  deviceName: string | null;

  @ApiProperty(nullableString)
  imei: string | null;

  @ApiProperty(nullableString)
  meid: string | null;

  @ApiProperty()
  hasUnlockToken: boolean;

  @ApiProperty()
  hasBootstrapToken: boolean;

  @ApiProperty({
    ...dateTime,
    nullable: true,
    description: 'When the UnlockToken held now was escrowed; null when none is held.',
  })
  unlockTokenAt: string | null;

  @ApiProperty({
    ...dateTime,
    nullable: true,
    description: 'When the bootstrap token held now was escrowed; null when none is held.',
  })
  bootstrapTokenAt: string | null;

  @ApiProperty({
    type: Boolean,
    nullable: true,
    description:
      'True when the UnlockToken was escrowed before the device’s last Authenticate: it survived a renewal or ' +
      're-enrollment (Authenticate never deletes it) and may be stale. Null when none is held.',
  })
  unlockTokenPredatesLastAuthenticate: boolean | null;

  @ApiProperty({ type: Boolean, nullable: true, description: 'The same for the bootstrap token.' })
  bootstrapTokenPredatesLastAuthenticate: boolean | null;

  @ApiProperty({ ...dateTime, nullable: true })
  lastAuthenticateAt: string | null;

  @ApiProperty(dateTime)
  createdAt: string;

  @ApiProperty(dateTime)
  updatedAt: string;

  @ApiProperty({ type: [EnrollmentViewBody], description: 'Ordered by creation time, then id.' })
  enrollments: EnrollmentViewBody[];

  @ApiProperty({
    type: CertificateBindingBody,
    nullable: true,
    description:
      'The newest active identity certificate of the device (the one a renewed device uses; never its key), or null when none is active.',
  })
  certificate: CertificateBindingBody | null;

  @ApiProperty({
    type: [CertificateBindingBody],
    description:
      'Every certificate ever bound to the device, oldest first, revoked and expired ones included. A new certificate ' +
      'in an Authenticate is added beside the older ones (replacing them only under DEVICE_CERT_MATCH).',
  })
  certificates: CertificateBindingBody[];
}

@ApiSchema({ name: 'UserView', description: 'A user of a device and the state of the user’s channel.' })
export class UserViewBody implements UserView {
  @ApiProperty({
    description: 'The user channel’s enrollment id (UDID:UserID, UDID:UserShortName or EnrollmentID:EnrollmentUserID).',
  })
  enrollmentId: string;

  @ApiProperty({ type: String, enum: ['User', 'Shared iPad', 'User Enrollment'] })
  type: EnrollmentType;

  @ApiProperty({ ...nullableString, description: 'UserID (the all-F id on Shared iPad) or EnrollmentUserID.' })
  userId: string | null;

  @ApiProperty(nullableString)
  shortName: string | null;

  @ApiProperty(nullableString)
  longName: string | null;

  @ApiProperty({ type: Boolean, nullable: true })
  notOnConsole: boolean | null;

  @ApiProperty({
    description: 'The user channel is enabled (false until its first TokenUpdate, after CheckOut or re-enrollment).',
  })
  enabled: boolean;

  @ApiProperty({ ...dateTime, nullable: true, description: 'The last message of this user channel.' })
  lastSeenAt: string | null;

  @ApiProperty({ ...dateTime, nullable: true })
  lastTokenUpdateAt: string | null;

  @ApiProperty({ ...dateTime, nullable: true })
  lastUserAuthenticateAt: string | null;

  @ApiProperty({
    type: String,
    enum: ['declined', 'challenged', 'allowed', 'accepted', 'rejected'],
    nullable: true,
    description: 'Null when the user never sent UserAuthenticate.',
  })
  userAuthenticateState: string | null;
}

/** 404 when ADMIN_API_KEY is not set, whatever the route. */
export const ADMIN_DISABLED_EXAMPLE = {
  summary: 'ADMIN_API_KEY is not set',
  value: { statusCode: 404, error: 'Not Found', message: 'the admin API is disabled: set ADMIN_API_KEY to enable it' },
};

/** The answers every /api route shares: the key, our faults, an unavailable database. */
export function ApiAdminCommon(options: { database: boolean } = { database: true }) {
  return applyDecorators(
    ApiBearerAuth(ADMIN_SECURITY),
    ApiUnauthorizedResponse({
      description: 'The `Authorization` header is missing, not `Bearer <key>`, or carries a wrong key.',
      type: HttpErrorBody,
      example: {
        statusCode: 401,
        error: 'Unauthorized',
        message: 'a valid "Authorization: Bearer <ADMIN_API_KEY>" header is required',
      },
    }),
    ApiInternalServerErrorResponse({
      description: 'A fault of the server; details are only in the log.',
      type: InternalErrorBody,
    }),
    ...(options.database
      ? [
          ApiServiceUnavailableResponse({
            description:
              'The database is unreachable, did not answer within DATABASE_TIMEOUT_MS, or stayed locked; try again later.',
            headers: { 'Retry-After': { description: 'Seconds.', schema: { type: 'string', enum: ['30'] } } },
            type: HttpErrorBody,
            example: {
              statusCode: 503,
              error: 'Service Unavailable',
              message: 'the database is unavailable; try again later',
            },
          }),
        ]
      : []),
  );
}

const NEXT_CURSOR = {
  type: String,
  required: false,
  description:
    'Pass it as `cursor` (with the same `sort`) to read the next page; absent on the last page. Opaque: the sort ' +
    'key of this page’s last row.',
} as const;

@ApiSchema({ name: 'DevicePage', description: 'One page of devices.' })
export class DevicePageBody {
  @ApiProperty({ type: [DeviceViewBody] })
  items: DeviceViewBody[];

  @ApiProperty(NEXT_CURSOR)
  nextCursor?: string;
}

@ApiSchema({ name: 'EnrollmentPage', description: 'One page of enrollments.' })
export class EnrollmentPageBody {
  @ApiProperty({ type: [EnrollmentViewBody] })
  items: EnrollmentViewBody[];

  @ApiProperty(NEXT_CURSOR)
  nextCursor?: string;
}

@ApiSchema({ name: 'UserPage', description: 'One page of users.' })
export class UserPageBody {
  @ApiProperty({ type: [UserViewBody] })
  items: UserViewBody[];

  @ApiProperty(NEXT_CURSOR)
  nextCursor?: string;
}
