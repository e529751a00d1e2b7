import type { Provider } from '@nestjs/common';
import { CheckinError, CheckinErrorCode } from './checkin/checkin.errors.js';
import { CHECKIN_IDENTITY } from './checkin/checkin-identity.js';
import type { CheckinIdentity } from './checkin/checkin-identity.js';
import type { CheckinPipeline } from './checkin/checkin.module.js';
import { CHECKIN_MIDDLEWARE } from './checkin/checkin.types.js';
import type { CheckinMiddleware } from './checkin/checkin.types.js';
import {
  CertificateBindingError,
  CertificateBindingMiddleware,
} from './device-identity/certificate-binding.middleware.js';
import { DeviceIdentityModule } from './device-identity/device-identity.module.js';
import { DeviceIdentityService, IdentityError } from './device-identity/device-identity.service.js';
import { AuthTokenMiddleware } from './user-channels/auth-token.middleware.js';
import { UserChannelsModule } from './user-channels/user-channels.module.js';

/**
 * What the application plugs into the check-in pipeline. The check-in module and the
 * device-identity module do not know each other; this is where the one meets the other, and
 * where identity refusals become check-in answers.
 */
export const CHECKIN_PIPELINE: CheckinPipeline = {
  imports: [DeviceIdentityModule, UserChannelsModule],
  providers: [
    {
      provide: CHECKIN_IDENTITY,
      inject: [DeviceIdentityService],
      useFactory: (identity: DeviceIdentityService): CheckinIdentity => ({
        identify: (headers, body) => identity.identify(headers, body).catch(asCheckinError),
      }),
    },
    // The ordered middleware chain around every handler, in this one list: certificate
    // binding first, then a user channel's AuthToken (audit and webhooks will follow them).
    {
      provide: CHECKIN_MIDDLEWARE,
      inject: [CertificateBindingMiddleware, AuthTokenMiddleware],
      useFactory: (binding: CertificateBindingMiddleware, authToken: AuthTokenMiddleware): CheckinMiddleware[] => [
        {
          name: binding.name,
          handle: (message, ctx, next) => binding.handle(message, ctx, next).catch(asCheckinError),
        },
        authToken,
      ],
    },
  ] satisfies Provider[],
};

/** Identity refusals as the device sees them (400 or 403, never 401); anything else unchanged. */
function asCheckinError(err: unknown): never {
  if (err instanceof IdentityError) {
    const code = err.status === 403 ? CheckinErrorCode.IdentityNotAllowed : CheckinErrorCode.IdentityInvalid;
    throw new CheckinError(code, err.message, err.reason);
  }
  if (err instanceof CertificateBindingError) {
    throw new CheckinError(
      err.kind === 'forbidden' ? CheckinErrorCode.Forbidden : CheckinErrorCode.DatabaseUnavailable,
      err.message,
    );
  }
  throw err;
}
