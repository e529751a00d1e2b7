import { Inject, Injectable } from '@nestjs/common';
import { CheckinHandler } from '../../checkin/checkin-handler.decorator.js';
import { OK } from '../../checkin/checkin.types.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from '../../checkin/checkin.types.js';
import { EnrollmentsService } from '../../enrollments/enrollments.service.js';
import { CheckOutMessage } from '../../enrollments/messages/check-out.message.js';
import { UserChannelsService } from '../user-channels.service.js';

/**
 * CheckOut on a user channel: that user's channel only is disabled (the device and its other
 * users stay enrolled). Records are kept.
 * https://developer.apple.com/documentation/devicemanagement/check-out
 */
@CheckinHandler({ messageType: 'CheckOut', dto: CheckOutMessage, channels: ['user'] })
@Injectable()
export class UserCheckOutHandler implements CheckinMessageHandler<CheckOutMessage> {
  constructor(
    @Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService,
    @Inject(UserChannelsService) private readonly userChannels: UserChannelsService,
  ) {}

  async handle(msg: CheckOutMessage, ctx: CheckinContext): Promise<CheckinResult> {
    this.enrollments.checkTopic(msg.Topic);
    const { disabled } = await this.userChannels.checkOut(ctx.enrollment, ctx.receivedAt);
    ctx.logFields.enrollmentsDisabled = disabled;
    return OK;
  }
}
