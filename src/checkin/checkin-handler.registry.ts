import { Inject, Injectable } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { getMetadataStorage } from 'class-validator';
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
    const asyncProperty = asynchronouslyValidated(options.dto);
    if (asyncProperty !== undefined) {
      throw new Error(
        `Check-in DTO ${options.dto.name} validates "${asyncProperty}" asynchronously: ` +
          'messages are validated synchronously (validateSync), which would skip that constraint',
      );
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

/** The first property of the DTO with an asynchronous class-validator constraint, if any. */
function asynchronouslyValidated(dto: new () => object): string | undefined {
  const storage = getMetadataStorage();
  for (const m of storage.getTargetValidationMetadatas(dto, '', true, false)) {
    if (m.constraintCls === undefined) continue;
    if (storage.getTargetValidatorConstraints(m.constraintCls).some((c) => c.async)) return m.propertyName;
  }
  return undefined;
}
