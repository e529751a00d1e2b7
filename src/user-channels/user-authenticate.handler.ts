import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { CheckinError, CheckinErrorCode } from '../checkin/checkin.errors.js';
import { CheckinHandler } from '../checkin/checkin-handler.decorator.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from '../checkin/checkin.types.js';
import type { ConfigType } from '@nestjs/config';
import type { UserAuthenticateConfig } from '../config/config.js';
import { userChannelsConfig } from '../config/namespaces.js';
import { hashAuthToken, newAuthToken } from './auth-token.js';
import { UserAuthenticateMessage } from './user-authenticate.message.js';
import { UserChannelsService } from './user-channels.service.js';
import { USER_AUTHENTICATOR } from './user-authenticator.js';
import type { UserAuthenticator } from './user-authenticator.js';

/** 410 Gone: the device stops asking for this user until the next login. */
const DECLINED: CheckinResult = Object.freeze({ status: 410 });

/**
 * UserAuthenticate (macOS): the first request is answered by USER_AUTHENTICATE_POLICY —
 * `decline` (410), `challenge` (`{ DigestChallenge }`, single use, expiring) or `allow` (an
 * empty DigestChallenge: Apple's "no AuthToken needed"). The second, with a DigestResponse,
 * is checked by the {@link UserAuthenticator} only against a pending challenge; anything else
 * is 410 with nothing written. The AuthToken handed out is stored as a hash and replaces the
 * last one (AuthTokenMiddleware checks it on the user's later messages).
 * https://developer.apple.com/documentation/devicemanagement/user-authenticate
 */
@CheckinHandler({ messageType: 'UserAuthenticate', dto: UserAuthenticateMessage, channels: ['user'] })
@Injectable()
export class UserAuthenticateHandler implements CheckinMessageHandler<UserAuthenticateMessage> {
  private readonly config: UserAuthenticateConfig;

  constructor(
    @Inject(UserChannelsService) private readonly userChannels: UserChannelsService,
    @Inject(USER_AUTHENTICATOR) private readonly authenticator: UserAuthenticator,
    @Inject(userChannelsConfig.KEY) config: ConfigType<typeof userChannelsConfig>,
  ) {
    this.config = config;
  }

  async handle(msg: UserAuthenticateMessage, ctx: CheckinContext): Promise<CheckinResult> {
    if (ctx.enrollment.type !== 'User') {
      throw new CheckinError(
        CheckinErrorCode.NotAllowedForEnrollmentType,
        `UserAuthenticate is for macOS users, not ${ctx.enrollment.type} channels`,
      );
    }
    if (msg.DigestResponse === undefined) return this.firstStep(msg, ctx);
    return this.secondStep(msg, msg.DigestResponse, ctx);
  }

  private async firstStep(msg: UserAuthenticateMessage, ctx: CheckinContext): Promise<CheckinResult> {
    const { enrollment, receivedAt: now } = ctx;
    ctx.logFields.userAuthenticateStep = 1;
    switch (this.config.policy) {
      case 'decline':
        await this.userChannels.beginUserAuthenticate(enrollment, 'declined', null, msg.UserLongName, now);
        ctx.logFields.userAuthenticate = 'declined';
        return DECLINED;
      case 'allow':
        await this.userChannels.beginUserAuthenticate(enrollment, 'allowed', null, msg.UserLongName, now);
        ctx.logFields.userAuthenticate = 'allowed without AuthToken';
        return { status: 200, plist: { DigestChallenge: '' } };
      case 'challenge': {
        const value = randomBytes(16).toString('base64url');
        const expiresAt = new Date(now.getTime() + this.config.challengeTtlSeconds * 1000);
        await this.userChannels.beginUserAuthenticate(
          enrollment,
          'challenged',
          { value, expiresAt },
          msg.UserLongName,
          now,
        );
        ctx.logFields.userAuthenticate = 'challenged';
        return { status: 200, plist: { DigestChallenge: value } };
      }
    }
  }

  private async secondStep(
    msg: UserAuthenticateMessage,
    digestResponse: string,
    ctx: CheckinContext,
  ): Promise<CheckinResult> {
    const { enrollment, receivedAt: now } = ctx;
    ctx.logFields.userAuthenticateStep = 2;
    const pending = await this.userChannels.pendingDigestChallenge(enrollment, now);
    // `decline` covers both steps: a DigestResponse nobody asked for is never checked.
    if (this.config.policy !== 'challenge' || 'missing' in pending) {
      ctx.logFields.userAuthenticate =
        'missing' in pending ? `declined: challenge ${pending.missing}` : `declined: policy ${this.config.policy}`;
      return DECLINED;
    }
    const verdict = await this.authenticator.authenticate({
      enrollment,
      userId: enrollment.userId ?? '',
      shortName: enrollment.userShortName,
      longName: msg.UserLongName,
      challenge: pending.challenge,
      digestResponse,
    });
    let authToken: string | null = null;
    let state: 'accepted' | 'rejected' | 'declined';
    switch (verdict.outcome) {
      case 'accept':
        authToken = verdict.authToken ?? newAuthToken();
        if (typeof authToken !== 'string' || authToken === '' || authToken.length > 4096) {
          throw new CheckinError(
            CheckinErrorCode.Internal,
            'the user authenticator accepted with an AuthToken that is not a string of 1 to 4096 characters',
          );
        }
        state = 'accepted';
        break;
      case 'wrong-password':
        state = 'rejected';
        break;
      case 'decline':
        state = 'declined';
        break;
    }
    const answered = await this.userChannels.answerDigestChallenge(
      enrollment,
      pending.challenge,
      state,
      authToken === null ? null : hashAuthToken(authToken),
      msg.UserLongName,
      now,
    );
    if (!answered) {
      // Another answer to the same challenge won, or a new login replaced the challenge meanwhile.
      ctx.logFields.userAuthenticate = 'declined: challenge already answered';
      return DECLINED;
    }
    ctx.logFields.userAuthenticate = state === 'rejected' ? 'wrong password' : state;
    if (state === 'declined') return DECLINED;
    return { status: 200, plist: { AuthToken: authToken ?? '' } };
  }
}
