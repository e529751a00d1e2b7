import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { ApiOperationOptions, ContentObject, HeadersObject, SchemaObject } from '@nestjs/swagger';

/**
 * The check-in endpoint in the OpenAPI document: the body is a property list, not JSON, and
 * every error is a one-line text (never 401: some devices unenroll on it). Every status
 * listed here is one the code answers (test/openapi.e2e-spec.ts checks the ones it provokes
 * are documented; faults.e2e-spec.ts provokes the 500 and 503).
 */

export const CHECKIN_CONTENT_TYPE = 'application/x-apple-aspen-mdm-checkin';

const plist: SchemaObject = {
  type: 'string',
  format: 'binary',
  description: 'A property list: XML (`<plist version="1.0">`) or binary (`bplist00`).',
};

const TOKEN_UPDATE_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>MessageType</key>
  <string>TokenUpdate</string>
  <key>UDID</key>
  <string>564D2E7A-3B1F-5C9E-8A46-D2F1B7E0C3A9</string>
  <key>Topic</key>
  <string>com.apple.mgmt.External.0c3b5d2e-3f6a-4b8e-9d41-2a7c8e5f1b90</string>
  <key>PushMagic</key>
  <string>E1D2C3B4-A596-4788-9900-AABBCCDDEEFF</string>
  <key>Token</key>
  <data>3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=</data>
</dict>
</plist>
`;

const requestId: HeadersObject = {
  'X-Request-Id': {
    description: 'The request’s correlation id (the caller’s when it was a sane one, else a new UUID).',
    schema: { type: 'string' },
  },
};

/** A one-line reason ending with a newline. */
function text(examples: Record<string, string>): ContentObject {
  return {
    'text/plain': {
      schema: { type: 'string', description: 'A short, single-line reason ending with a newline.' },
      examples: Object.fromEntries(Object.entries(examples).map(([k, v]) => [k, { value: `${v}\n` }])),
    },
  };
}

const xmlPlist = (examples: Record<string, { summary: string; value: string }>): ContentObject => ({
  'application/xml': {
    schema: { type: 'string', description: 'An XML property list (`Content-Type: application/xml; charset=utf-8`).' },
    examples,
  },
});

const plistDoc = (body: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n${body}\n</plist>\n`;

const RESPONSES = [
  ApiResponse({
    status: 200,
    description:
      'The message was processed. The body is empty (no Content-Type) for Authenticate, TokenUpdate, CheckOut ' +
      'and SetBootstrapToken. GetBootstrapToken answers an XML plist `{ BootstrapToken: <data> }`, or an empty ' +
      'dictionary when no token is escrowed; GetToken answers `{ TokenData: <data> }`; UserAuthenticate answers ' +
      '`{ DigestChallenge: <string> }` (first step; empty with USER_AUTHENTICATE_POLICY=allow) or ' +
      '`{ AuthToken: <string> }` (second step; empty when the password was wrong).',
    headers: requestId,
    content: xmlPlist({
      bootstrapToken: {
        summary: 'GetBootstrapToken with a token escrowed',
        value: plistDoc('<dict>\n\t<key>BootstrapToken</key>\n\t<data>Ym9vdHN0cmFwLXRva2Vu</data>\n</dict>'),
      },
      noBootstrapToken: { summary: 'GetBootstrapToken with nothing escrowed', value: plistDoc('<dict/>') },
    }),
  }),
  ApiResponse({
    status: 400,
    description:
      'The device’s mistake; nothing was written. Causes: a missing, malformed or unverifiable device identity ' +
      '(no Mdm-Signature, not base64 or not CMS, a signature that does not match the body; in header mode a ' +
      'missing or unparsable certificate header); an empty body; not a valid plist (also nesting deeper than 32 ' +
      'or too many values); not a dictionary; no or non-string `MessageType`; an unknown MessageType, or an ' +
      'Apple one this server does not handle (DeclarativeManagement, ReturnToService); a message that fails ' +
      'validation; identity keys that do not name an enrollment; a device-channel-only message on a user ' +
      'channel; UserAuthenticate on a channel that is not a macOS user’s; a Topic not starting with ' +
      '`com.apple.mgmt.` or not in PUSH_TOPICS; a device that has not sent Authenticate; a user channel whose ' +
      'device channel is not enrolled; an unknown or disabled enrollment; a message not allowed for the ' +
      'enrollment type (bootstrap tokens on User Enrollment); GetToken with a missing, unknown or unconfigured ' +
      'TokenServiceType, missing TokenParameters (watch pairing), or from an enrollment with no TokenUpdate yet.',
    headers: requestId,
    content: text({ empty: 'the body is empty', unknownType: 'unknown MessageType "Foo"' }),
  }),
  ApiResponse({
    status: 403,
    description:
      'The device’s identity is valid but not allowed; nothing was written. The certificate does not chain to ' +
      'DEVICE_CA_FILE, has expired or is not valid yet (beyond DEVICE_CLOCK_SKEW_SECONDS), is not for client ' +
      'authentication, or is a CA certificate; it is bound to another device, is not one of those bound to this ' +
      'device, or was revoked (a replayed Authenticate included); it does not name the device as ' +
      'DEVICE_CERT_MATCH asks; or no certificate is bound to an enrolled device and DEVICE_CERT_BIND_RETRO is ' +
      'false. Or a user-channel message carries an `AuthToken` that is not the one the user’s last ' +
      'UserAuthenticate issued (USER_AUTH_TOKEN_CHECK).',
    headers: requestId,
    content: text({
      spoofed: 'the certificate is not one of those bound to 00008103-0012345A3E88801E',
      revoked: 'the certificate was revoked for 00008103-0012345A3E88801E',
    }),
  }),
  ApiResponse({
    status: 410,
    description:
      'UserAuthenticate: this macOS user is not managed (USER_AUTHENTICATE_POLICY=decline, or the authenticator ' +
      'declined the DigestResponse), or a DigestResponse answers no pending challenge (none was sent, it was ' +
      'already answered, or it expired). Empty body. The device asks again at the user’s next login.',
    headers: requestId,
  }),
  ApiResponse({
    status: 413,
    description:
      'The body is larger than CHECKIN_MAX_BODY_BYTES, or an Authenticate is larger than 65,535 bytes; the ' +
      'connection is closed.',
    headers: { ...requestId, Connection: { schema: { type: 'string', enum: ['close'] } } },
    content: text({ tooLarge: 'the body is larger than 1048576 bytes' }),
  }),
  ApiResponse({
    status: 500,
    description: 'A fault of the server (or a stored secret no configured key opens); details are only in the log.',
    headers: requestId,
    content: text({ internal: 'Internal Server Error' }),
  }),
  ApiResponse({
    status: 503,
    description:
      'The database is unreachable or overloaded (including deadlocks), or an overlapping message of the same ' +
      'device bound the same certificate meanwhile; the device retries later.',
    headers: { ...requestId, 'Retry-After': { description: 'Seconds.', schema: { type: 'string', enum: ['30'] } } },
    content: text({ unavailable: 'Service Unavailable: try again later' }),
  }),
];

/** A check-in route: the plist body, the X-Request-Id header and every answer. */
export function ApiCheckin(operation: ApiOperationOptions, mdm: boolean) {
  return applyDecorators(
    ApiTags('check-in'),
    ApiOperation({ ...operation, security: [] }),
    ApiHeader({
      name: 'X-Request-Id',
      required: false,
      description:
        'Correlation id written to the request’s log line when it matches `^[A-Za-z0-9._-]{1,64}$`; otherwise ' +
        'the server makes a UUID. Echoed in the X-Request-Id response header.',
      schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
    }),
    mdm
      ? ApiConsumes(CHECKIN_CONTENT_TYPE, '*/*')
      : ApiConsumes(CHECKIN_CONTENT_TYPE, 'application/xml', 'application/octet-stream'),
    ApiBody({
      required: !mdm,
      description: mdm
        ? `With a Content-Type starting with \`${CHECKIN_CONTENT_TYPE}\`: a check-in message, as for \`/checkin\`. ` +
          'Anything else: not read, answered 501.'
        : 'One check-in message: a property-list dictionary with a `MessageType` key, XML or binary. At most ' +
          'CHECKIN_MAX_BODY_BYTES bytes (default 1048576), whether or not Content-Length announces it. The ' +
          'Content-Type is not checked. An empty body is 400.',
      schema: plist,
      examples: { tokenUpdate: { summary: 'A TokenUpdate on the device channel', value: TOKEN_UPDATE_EXAMPLE } },
    }),
    ...RESPONSES,
    ...(mdm
      ? [
          ApiResponse({
            status: 501,
            description:
              'The MDM command connection (any Content-Type other than the check-in one) is not implemented yet.',
            headers: requestId,
            content: text({ notImplemented: 'Not Implemented: the MDM command endpoint is not available yet' }),
          }),
        ]
      : []),
  );
}
