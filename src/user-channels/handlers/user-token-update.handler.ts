import { Inject, Injectable } from '@nestjs/common';
import { CheckinHandler } from '../../checkin/checkin-handler.decorator.js';
import { OK } from '../../checkin/checkin.types.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from '../../checkin/checkin.types.js';
import { EnrollmentsService } from '../../enrollments/enrollments.service.js';
import { TokenUpdateMessage } from '../../enrollments/messages/token-update.message.js';
import { UserChannelsService } from '../user-channels.service.js';

/**
 * TokenUpdate on a user channel (macOS user, Shared iPad user, User Enrollment user): the
 * channel becomes (or stays) enabled with its own newest push credentials, under an enrolled
 * device channel, and its user is recorded. The device channel's TokenUpdate is enrollments'.
 * https://developer.apple.com/documentation/devicemanagement/token-update
 */
@CheckinHandler({ messageType: 'TokenUpdate', dto: TokenUpdateMessage, channels: ['user'] })
@Injectable()
export class UserTokenUpdateHandler implements CheckinMessageHandler<TokenUpdateMessage> {
  constructor(
    @Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService,
    @Inject(UserChannelsService) private readonly userChannels: UserChannelsService,
  ) {}

  async handle(msg: TokenUpdateMessage, ctx: CheckinContext): Promise<CheckinResult> {
    this.enrollments.checkTopic(msg.Topic);
    const outcome = await this.userChannels.tokenUpdate(
      ctx.enrollment,
      {
        topic: msg.Topic,
        token: msg.Token,
        pushMagic: msg.PushMagic,
        unlockToken: msg.UnlockToken,
        awaitingConfiguration: msg.AwaitingConfiguration === true,
        userLongName: msg.UserLongName,
        notOnConsole: msg.NotOnConsole,
      },
      ctx.receivedAt,
    );
    ctx.logFields.tokenUpdateCount = outcome.tokenUpdateCount;
    ctx.logFields.awaitingConfiguration = msg.AwaitingConfiguration === true;
    ctx.logFields.unlockTokenStored = false;
    if (outcome.unlockTokenIgnored) ctx.logFields.unlockTokenIgnored = 'sent on a user channel';
    return OK;
  }
}
