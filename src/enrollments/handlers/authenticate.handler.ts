import { Inject, Injectable } from '@nestjs/common';
import { CheckinHandler } from '../../checkin/checkin-handler.decorator.js';
import { OK } from '../../checkin/checkin.types.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from '../../checkin/checkin.types.js';
import { EnrollmentsService } from '../enrollments.service.js';
import { AuthenticateMessage } from '../messages/authenticate.message.js';

/** Authenticate: create the device, or re-enroll it (enrollments wait for TokenUpdate; escrowed secrets stay). */
@CheckinHandler({ messageType: 'Authenticate', dto: AuthenticateMessage })
@Injectable()
export class AuthenticateHandler implements CheckinMessageHandler<AuthenticateMessage> {
  constructor(@Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService) {}

  async handle(msg: AuthenticateMessage, ctx: CheckinContext): Promise<CheckinResult> {
    this.enrollments.checkTopic(msg.Topic);
    const { reenrollment } = await this.enrollments.authenticate(
      ctx.enrollment.deviceId,
      {
        serialNumber: msg.SerialNumber ?? null,
        model: msg.Model ?? null,
        modelName: msg.ModelName ?? null,
        osVersion: msg.OSVersion ?? null,
        buildVersion: msg.BuildVersion ?? null,
        productName: msg.ProductName ?? null,
        deviceName: msg.DeviceName ?? null,
        imei: msg.IMEI ?? null,
        meid: msg.MEID ?? null,
      },
      ctx.rawBody,
      ctx.receivedAt,
      ctx.transactionalWrites,
    );
    ctx.logFields.reenrollment = reenrollment;
    return OK;
  }
}
