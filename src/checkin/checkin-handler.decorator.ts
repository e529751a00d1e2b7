import { SetMetadata } from '@nestjs/common';
import type { Channel } from './enrollment-id.js';

export interface CheckinHandlerOptions {
  /** The plist `MessageType` this handler answers. */
  readonly messageType: string;
  /** The class-validator DTO the message must satisfy before the handler runs. */
  readonly dto: new () => object;
  /**
   * Channels the handler accepts; a message on another channel is refused with 400
   * before any write. Defaults to the device channel only.
   */
  readonly channels?: readonly Channel[];
  /**
   * The handler honours `ctx.writeGuard` (see WriteGuard in checkin.types.ts), so a middleware
   * may hand it its check instead of querying first. Defaults to false.
   */
  readonly foldsWriteGuard?: boolean;
}

export const CHECKIN_HANDLER_METADATA = 'mdm:checkin-handler';

/**
 * Marks a provider as the handler of one check-in MessageType. The registry finds it at
 * start-up through Nest's DiscoveryService; two handlers for one MessageType stop the start.
 */
export const CheckinHandler = (options: CheckinHandlerOptions): ClassDecorator =>
  SetMetadata(CHECKIN_HANDLER_METADATA, options);
