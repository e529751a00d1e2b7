import { Inject, Injectable } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { discoverByMetadata } from '../common/discover.js';
import { CHECKIN_HANDLER_METADATA } from './checkin-handler.decorator.js';
import type { CheckinHandlerOptions } from './checkin-handler.decorator.js';
import type { Channel } from './enrollment-id.js';
import type { CheckinMessageHandler } from './checkin.types.js';

export interface RegisteredHandler {
  readonly messageType: string;
  readonly dto: new () => object;
  readonly channels: ReadonlySet<Channel>;
  readonly foldsWriteGuard: boolean;
  readonly handler: CheckinMessageHandler;
}

/**
 * Every `@CheckinHandler` provider in the application, by MessageType. Filled once at
 * start-up; a second handler for the same MessageType is a programming error and stops
 * the start so it is found before any device is served.
 */
@Injectable()
export class CheckinHandlerRegistry implements OnModuleInit {
  private readonly handlers = new Map<string, RegisteredHandler>();

  constructor(@Inject(DiscoveryService) private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    for (const { metadata, instance, name } of discoverByMetadata<CheckinHandlerOptions>(
      this.discovery,
      CHECKIN_HANDLER_METADATA,
    )) {
      this.register(metadata, instance as CheckinMessageHandler, name);
    }
  }

  register(options: CheckinHandlerOptions, handler: CheckinMessageHandler, name = 'handler'): void {
    const existing = this.handlers.get(options.messageType);
    if (existing !== undefined) {
      throw new Error(
        `Two check-in handlers claim MessageType "${options.messageType}": ` +
          `${existing.handler.constructor.name} and ${name}`,
      );
    }
    if (typeof (handler as Partial<CheckinMessageHandler>).handle !== 'function') {
      throw new Error(`Check-in handler ${name} for "${options.messageType}" has no handle() method`);
    }
    this.handlers.set(options.messageType, {
      messageType: options.messageType,
      dto: options.dto,
      channels: new Set(options.channels ?? ['device']),
      foldsWriteGuard: options.foldsWriteGuard === true,
      handler,
    });
  }

  get(messageType: string): RegisteredHandler | undefined {
    return this.handlers.get(messageType);
  }

  messageTypes(): string[] {
    return [...this.handlers.keys()].sort();
  }
}
