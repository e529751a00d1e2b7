import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CertificateBindingMiddleware } from '../device-identity/certificate-binding.middleware.js';
import { DeviceIdentityModule } from '../device-identity/device-identity.module.js';
import { AuthTokenMiddleware } from '../user-channels/auth-token.middleware.js';
import { UserChannelsModule } from '../user-channels/user-channels.module.js';
import { CheckinController } from './checkin.controller.js';
import { CheckinDispatcher } from './checkin.dispatcher.js';
import { CheckinHandlerRegistry } from './checkin-handler.registry.js';
import { CHECKIN_MIDDLEWARE } from './checkin.types.js';
import type { CheckinMiddleware } from './checkin.types.js';

/**
 * The device-facing endpoint and the pipeline every message goes through. It knows no
 * storage: handlers live in the modules that own the behaviour and are discovered here.
 */
@Module({
  imports: [DiscoveryModule, DeviceIdentityModule, UserChannelsModule],
  controllers: [CheckinController],
  providers: [
    CheckinHandlerRegistry,
    CheckinDispatcher,
    // The ordered middleware chain around every handler, in this one list: certificate
    // binding first, then a user channel's AuthToken (audit and webhooks will follow them).
    {
      provide: CHECKIN_MIDDLEWARE,
      inject: [CertificateBindingMiddleware, AuthTokenMiddleware],
      useFactory: (binding: CertificateBindingMiddleware, authToken: AuthTokenMiddleware): CheckinMiddleware[] => [
        binding,
        authToken,
      ],
    },
  ],
  exports: [CheckinHandlerRegistry],
})
export class CheckinModule {}
