import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
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
  imports: [DiscoveryModule],
  controllers: [CheckinController],
  providers: [
    CheckinHandlerRegistry,
    CheckinDispatcher,
    // The ordered middleware chain around every handler (certificate binding, audit,
    // webhooks come here, in this one list).
    { provide: CHECKIN_MIDDLEWARE, useValue: [] satisfies CheckinMiddleware[] },
  ],
  exports: [CheckinHandlerRegistry],
})
export class CheckinModule {}
