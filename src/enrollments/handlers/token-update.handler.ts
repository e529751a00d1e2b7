import { Inject, Injectable } from '@nestjs/common';
import { CheckinHandler } from '../../checkin/checkin-handler.decorator.js';
import { OK } from '../../checkin/checkin.types.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from '../../checkin/checkin.types.js';
import { EnrollmentsService } from '../enrollments.service.js';
import { TokenUpdateMessage } from '../messages/token-update.message.js';

/**
 * TokenUpdate on the device channel: the enrollment becomes (or stays) enabled with the newest
 * push credentials. User channels' TokenUpdate is handled by the user-channels module.
 * https://developer.apple.com/documentation/devicemanagement/token-update
 */
@CheckinHandler({
  messageType: 'TokenUpdate',
  dto: TokenUpdateMessage,
  channels: ['device'],
  // EnrollmentsService.tokenUpdate honours it (one statement instead of a binding read and a write).
  foldsWriteGuard: true,
})
@Injectable()
export class TokenUpdateHandler implements CheckinMessageHandler<TokenUpdateMessage> {
  constructor(@Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService) {}

  async handle(msg: TokenUpdateMessage, ctx: CheckinContext): Promise<CheckinResult> {
    this.enrollments.checkTopic(msg.Topic);
    const outcome = await this.enrollments.tokenUpdate(
      ctx.enrollment,
      {
        topic: msg.Topic,
        token: msg.Token,
        pushMagic: msg.PushMagic,
        unlockToken: msg.UnlockToken,
        awaitingConfiguration: msg.AwaitingConfiguration === true,
      },
      ctx.receivedAt,
      ctx.writeGuard,
    );
    ctx.logFields.tokenUpdateCount = outcome.tokenUpdateCount;
    ctx.logFields.awaitingConfiguration = msg.AwaitingConfiguration === true;
    ctx.logFields.unlockTokenStored = outcome.unlockTokenStored;
    return OK;
  }
}
