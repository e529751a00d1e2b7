import { Inject, Injectable } from '@nestjs/common';
import { CheckinHandler } from '../../checkin/checkin-handler.decorator.js';
import { OK } from '../../checkin/checkin.types.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from '../../checkin/checkin.types.js';
import { EnrollmentsService } from '../enrollments.service.js';
import { CheckOutMessage } from '../messages/check-out.message.js';

/**
 * CheckOut on the device channel: disable the enrollment with all its user channels. Records
 * are kept. A user channel's CheckOut is handled by the user-channels module.
 * https://developer.apple.com/documentation/devicemanagement/check-out
 */
@CheckinHandler({ messageType: 'CheckOut', dto: CheckOutMessage, channels: ['device'] })
@Injectable()
export class CheckOutHandler implements CheckinMessageHandler<CheckOutMessage> {
  constructor(@Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService) {}

  async handle(msg: CheckOutMessage, ctx: CheckinContext): Promise<CheckinResult> {
    this.enrollments.checkTopic(msg.Topic);
    const { disabled } = await this.enrollments.checkOut(ctx.enrollment, ctx.receivedAt);
    ctx.logFields.enrollmentsDisabled = disabled;
    return OK;
  }
}
