import { Module } from '@nestjs/common';
import type { DynamicModule, ModuleMetadata, Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CheckinController } from './checkin.controller.js';
import { CheckinDispatcher } from './checkin.dispatcher.js';
import { CheckinHandlerRegistry } from './checkin-handler.registry.js';

/** What the application plugs into the pipeline (see AppModule). */
export interface CheckinPipeline {
  /** The modules whose exported services the providers below are built from. */
  readonly imports: NonNullable<ModuleMetadata['imports']>;
  /**
   * Must provide CHECKIN_IDENTITY (who sent a message) and CHECKIN_MIDDLEWARE (the ordered
   * middleware chain around every handler).
   */
  readonly providers: Provider[];
}

/**
 * The device-facing endpoint and the pipeline every message goes through. It knows no
 * storage and no other module: handlers live in the modules that own the behaviour and are
 * discovered here; the identity check and the middleware chain are given by the application.
 */
@Module({})
export class CheckinModule {
  static forRoot(pipeline: CheckinPipeline): DynamicModule {
    return {
      module: CheckinModule,
      imports: [DiscoveryModule, ...pipeline.imports],
      controllers: [CheckinController],
      providers: [CheckinHandlerRegistry, CheckinDispatcher, ...pipeline.providers],
      exports: [CheckinHandlerRegistry],
    };
  }
}
