import { Inject, Injectable } from '@nestjs/common';
import { CheckinError, CheckinErrorCode } from '../checkin/checkin.errors.js';
import { CheckinHandler } from '../checkin/checkin-handler.decorator.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from '../checkin/checkin.types.js';
import { EnrollmentsService } from '../enrollments/enrollments.service.js';
import { GetTokenMessage } from './messages/get-token.message.js';
import { TokenServiceRegistry } from './token-service.registry.js';

/**
 * GetToken: `{ TokenData: <data> }` from the service registered for `TokenServiceType`.
 * An unknown or unconfigured service type is 400 (Apple's rule; the Go servers answer 500).
 * Only an enabled enrollment past its first TokenUpdate gets a token.
 */
@CheckinHandler({ messageType: 'GetToken', dto: GetTokenMessage, channels: ['device', 'user'] })
@Injectable()
export class GetTokenHandler implements CheckinMessageHandler<GetTokenMessage> {
  constructor(
    @Inject(TokenServiceRegistry) private readonly registry: TokenServiceRegistry,
    @Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService,
  ) {}

  async handle(msg: GetTokenMessage, ctx: CheckinContext): Promise<CheckinResult> {
    const serviceType = msg.TokenServiceType;
    ctx.logFields.tokenServiceType = serviceType.slice(0, 64);
    const service = this.registry.get(serviceType);
    if (service === undefined) {
      throw new CheckinError(
        CheckinErrorCode.UnknownTokenService,
        `unknown TokenServiceType "${serviceType.slice(0, 64)}"`,
      );
    }
    if (!service.enabled) {
      throw new CheckinError(
        CheckinErrorCode.UnknownTokenService,
        `TokenServiceType ${serviceType} is not enabled: ${service.disabledReason ?? 'not configured'}`,
      );
    }
    const state = await this.enrollments.enrollmentState(ctx.enrollment.id);
    if (state === undefined) {
      throw new CheckinError(CheckinErrorCode.UnknownEnrollment, `enrollment ${ctx.enrollment.id} is not known`);
    }
    if (!state.enabled || state.tokenUpdateCount < 1) {
      throw new CheckinError(
        CheckinErrorCode.EnrollmentDisabled,
        `enrollment ${ctx.enrollment.id} is not enabled (no TokenUpdate since enrollment)`,
      );
    }
    const token = await service.issue({
      serviceType,
      enrollment: ctx.enrollment,
      parameters: msg.TokenParameters,
      now: ctx.receivedAt,
      logFields: ctx.logFields,
    });
    ctx.logFields.tokenIssued = true;
    return { status: 200, plist: { TokenData: token } };
  }
}
