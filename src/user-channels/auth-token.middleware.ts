import { Inject, Injectable } from '@nestjs/common';
import { CheckinError, CheckinErrorCode } from '../checkin/checkin.errors.js';
import type { CheckinContext, CheckinMiddleware, CheckinResult } from '../checkin/checkin.types.js';
import type { ConfigType } from '@nestjs/config';
import { userChannelsConfig } from '../config/namespaces.js';
import { authTokenMatches } from './auth-token.js';
import { UserChannelsService } from './user-channels.service.js';

/**
 * USER_AUTH_TOKEN_CHECK: a user-channel message that carries `AuthToken` must carry the one
 * the user's last UserAuthenticate handed out (Apple: it is valid until the next
 * UserAuthenticate, which is itself exempt because it starts a new handshake). Anything else
 * is 403 before the handler runs — never 401, which can make a device unenroll.
 */
@Injectable()
export class AuthTokenMiddleware implements CheckinMiddleware {
  readonly name = 'auth-token';
  private readonly enabled: boolean;

  constructor(
    @Inject(UserChannelsService) private readonly userChannels: UserChannelsService,
    @Inject(userChannelsConfig.KEY) config: ConfigType<typeof userChannelsConfig>,
  ) {
    this.enabled = config.authTokenCheck;
  }

  async handle(message: object, ctx: CheckinContext, next: () => Promise<CheckinResult>): Promise<CheckinResult> {
    if (!this.enabled || ctx.enrollment.channel !== 'user' || ctx.messageType === 'UserAuthenticate') return next();
    // The DTOs do not declare AuthToken: it rides along with the message's other keys.
    const token = (message as { AuthToken?: unknown }).AuthToken;
    if (token === undefined) return next();
    if (typeof token !== 'string') {
      throw new CheckinError(CheckinErrorCode.InvalidMessage, `${ctx.messageType}: AuthToken must be a string`);
    }
    const stored = await this.userChannels.authTokenHash(ctx.enrollment.id);
    if (stored === null || !authTokenMatches(token, stored)) {
      ctx.logFields.authToken = stored === null ? 'none issued' : 'wrong';
      throw new CheckinError(
        CheckinErrorCode.Forbidden,
        `the AuthToken is not the one issued to ${ctx.enrollment.id} by its last UserAuthenticate`,
      );
    }
    ctx.logFields.authToken = 'valid';
    return next();
  }
}
