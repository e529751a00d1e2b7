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
 * The device channel must be enabled and past its first TokenUpdate. On a user channel that
 * is the rule too, and the user's own channel need not exist yet: a Managed Apple Account
 * (macOS user, Shared iPad user) asks for its token while signing in, before its channel's
 * first TokenUpdate, and a refusal would block the sign-in.
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
    // The device channel: the enrollment itself, or a user channel's parent.
    const deviceChannelId = ctx.enrollment.parentId ?? ctx.enrollment.id;
    const state = await this.enrollments.enrollmentState(deviceChannelId);
    if (state === undefined) {
      throw new CheckinError(CheckinErrorCode.UnknownEnrollment, `enrollment ${deviceChannelId} is not known`);
    }
    if (!state.enabled || state.tokenUpdateCount < 1) {
      throw new CheckinError(
        CheckinErrorCode.EnrollmentDisabled,
        `enrollment ${deviceChannelId} is not enabled (no TokenUpdate since enrollment)`,
      );
    }
    // A user channel of its own is not needed (a Managed Apple Account signs in before the
    // user's first TokenUpdate), but one that was checked out is done: CheckOut disables it and
    // keeps its count, where a re-enrollment of the device resets the count to 0 until the
    // user's next TokenUpdate.
    if (ctx.enrollment.parentId !== null) {
      const own = await this.enrollments.enrollmentState(ctx.enrollment.id);
      if (own !== undefined && !own.enabled && own.tokenUpdateCount > 0) {
        throw new CheckinError(
          CheckinErrorCode.EnrollmentDisabled,
          `user channel ${ctx.enrollment.id} was checked out (no TokenUpdate since)`,
        );
      }
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
