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
  /** The channels whose handler was registered with `foldsWriteGuard`. */
  readonly foldsWriteGuard: ReadonlySet<Channel>;
  /** The handler; for a MessageType handled per channel by two modules, one that hands each channel to its own. */
  readonly handler: CheckinMessageHandler;
}

interface Registration extends RegisteredHandler {
  /** Who handles each channel, and under which name (for error messages). */
  readonly byChannel: ReadonlyMap<Channel, { readonly handler: CheckinMessageHandler; readonly name: string }>;
}

/**
 * Every `@CheckinHandler` provider in the application, by MessageType. Filled once at
 * start-up; two handlers claiming the same MessageType on the same channel is a programming
 * error and stops the start so it is found before any device is served. A MessageType may be
 * split between modules by channel (the device channel's TokenUpdate in enrollments/, the user
 * channels' in user-channels/), with one DTO: each message reaches the handler of its channel.
 */
@Injectable()
export class CheckinHandlerRegistry implements OnModuleInit {
  private readonly handlers = new Map<string, Registration>();

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
    const type = options.messageType;
    const channels: readonly Channel[] = options.channels ?? ['device'];
    const existing = this.handlers.get(type);
    if (existing !== undefined) {
      const taken = channels.map((c) => existing.byChannel.get(c)).find((h) => h !== undefined);
      if (taken !== undefined) {
        throw new Error(`Two check-in handlers claim MessageType "${type}": ${taken.name} and ${name}`);
      }
      if (existing.dto !== options.dto) {
        throw new Error(
          `The check-in handlers of MessageType "${type}" must share one DTO: ` +
            `${existing.dto.name} (${[...existing.byChannel.values()][0]?.name ?? 'handler'}) and ${options.dto.name} (${name})`,
        );
      }
    }
    if (typeof (handler as Partial<CheckinMessageHandler>).handle !== 'function') {
      throw new Error(`Check-in handler ${name} for "${type}" has no handle() method`);
    }
    const asyncProperty = asynchronouslyValidated(options.dto);
    if (asyncProperty !== undefined) {
      throw new Error(
        `Check-in DTO ${options.dto.name} validates "${asyncProperty}" asynchronously: ` +
          'messages are validated synchronously (validateSync), which would skip that constraint',
      );
    }
    const byChannel = new Map(existing?.byChannel);
    for (const c of channels) byChannel.set(c, { handler, name });
    this.handlers.set(type, {
      messageType: type,
      dto: options.dto,
      channels: new Set(byChannel.keys()),
      foldsWriteGuard: new Set([
        ...(existing?.foldsWriteGuard ?? []),
        ...(options.foldsWriteGuard === true ? channels : []),
      ]),
      handler: existing === undefined ? handler : byChannelHandler(byChannel),
      byChannel,
    });
  }

  get(messageType: string): RegisteredHandler | undefined {
    return this.handlers.get(messageType);
  }

  messageTypes(): string[] {
    return [...this.handlers.keys()].sort();
  }
}

/** Hands each message to the handler of its channel (the dispatcher has refused the others). */
function byChannelHandler(
  byChannel: ReadonlyMap<Channel, { readonly handler: CheckinMessageHandler }>,
): CheckinMessageHandler {
  return {
    handle: (message, ctx) => {
      const own = byChannel.get(ctx.enrollment.channel);
      if (own === undefined) {
        return Promise.reject(new Error(`no handler for ${ctx.messageType} on a ${ctx.enrollment.channel} channel`));
      }
      return own.handler.handle(message, ctx);
    },
  };
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
