import { Inject, Injectable } from '@nestjs/common';
import { CheckinHandler } from '../../checkin/checkin-handler.decorator.js';
import { CheckinError, CheckinErrorCode } from '../../checkin/checkin.errors.js';
import { OK } from '../../checkin/checkin.types.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from '../../checkin/checkin.types.js';
import { EnrollmentsService } from '../enrollments.service.js';
import { AuthenticateMessage } from '../messages/authenticate.message.js';

/**
 * The whole Authenticate is kept as the device's last one (devices.last_authenticate, a BLOB:
 * 65,535 bytes on MySQL/MariaDB). Real ones are one or two KiB; a larger one is refused on
 * every database alike rather than failing in MySQL only.
 */
export const MAX_AUTHENTICATE_BYTES = 65_535;

/** Authenticate: create the device, or re-enroll it (enrollments wait for TokenUpdate; escrowed secrets stay). */
@CheckinHandler({ messageType: 'Authenticate', dto: AuthenticateMessage })
@Injectable()
export class AuthenticateHandler implements CheckinMessageHandler<AuthenticateMessage> {
  constructor(@Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService) {}

  async handle(msg: AuthenticateMessage, ctx: CheckinContext): Promise<CheckinResult> {
    this.enrollments.checkTopic(msg.Topic);
    if (ctx.rawBody.length > MAX_AUTHENTICATE_BYTES) {
      throw new CheckinError(
        CheckinErrorCode.BodyTooLarge,
        `an Authenticate message may be at most ${MAX_AUTHENTICATE_BYTES} bytes, got ${ctx.rawBody.length}`,
      );
    }
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
    );
    ctx.logFields.reenrollment = reenrollment;
    return OK;
  }
}
