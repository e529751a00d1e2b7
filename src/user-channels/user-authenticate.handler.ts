import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { CheckinError, CheckinErrorCode } from '../checkin/checkin.errors.js';
import { CheckinHandler } from '../checkin/checkin-handler.decorator.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from '../checkin/checkin.types.js';
import { APP_CONFIG } from '../config/config.js';
import type { AppConfig, UserAuthenticatePolicy } from '../config/config.js';
import { EnrollmentsService } from '../enrollments/enrollments.service.js';
import { UserAuthenticateMessage } from './user-authenticate.message.js';
import { USER_AUTHENTICATOR } from './user-authenticator.js';
import type { UserAuthenticator } from './user-authenticator.js';

/** 410 Gone: the device stops asking for this user until the next login. */
const DECLINED: CheckinResult = Object.freeze({ status: 410 });

/**
 * UserAuthenticate (macOS): the first request is answered by USER_AUTHENTICATE_POLICY —
 * `decline` (410; the user is not managed) or `challenge` (`{ DigestChallenge }`); the second,
 * with a DigestResponse, goes to the {@link UserAuthenticator}. Both are recorded on the user.
 */
@CheckinHandler({ messageType: 'UserAuthenticate', dto: UserAuthenticateMessage, channels: ['user'] })
@Injectable()
export class UserAuthenticateHandler implements CheckinMessageHandler<UserAuthenticateMessage> {
  private readonly policy: UserAuthenticatePolicy;

  constructor(
    @Inject(EnrollmentsService) private readonly enrollments: EnrollmentsService,
    @Inject(USER_AUTHENTICATOR) private readonly authenticator: UserAuthenticator,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.policy = config.userAuthenticatePolicy;
  }

  async handle(msg: UserAuthenticateMessage, ctx: CheckinContext): Promise<CheckinResult> {
    const { enrollment } = ctx;
    if (enrollment.type !== 'User') {
      throw new CheckinError(
        CheckinErrorCode.NotAllowedForEnrollmentType,
        `UserAuthenticate is for macOS users, not ${enrollment.type} channels`,
      );
    }
    const now = ctx.receivedAt;
    if (msg.DigestResponse === undefined) {
      ctx.logFields.userAuthenticateStep = 1;
      if (this.policy === 'decline') {
        await this.enrollments.recordUserAuthenticate(enrollment, 'declined', null, msg.UserLongName, now);
        ctx.logFields.userAuthenticate = 'declined';
        return DECLINED;
      }
      const challenge = randomBytes(16).toString('base64url');
      await this.enrollments.recordUserAuthenticate(enrollment, 'challenged', challenge, msg.UserLongName, now);
      ctx.logFields.userAuthenticate = 'challenged';
      return { status: 200, plist: { DigestChallenge: challenge } };
    }

    ctx.logFields.userAuthenticateStep = 2;
    const challenge = await this.enrollments.pendingDigestChallenge(enrollment);
    const verdict = await this.authenticator.authenticate({
      enrollment,
      userId: enrollment.userId ?? '',
      shortName: enrollment.userShortName,
      longName: msg.UserLongName,
      challenge,
      digestResponse: msg.DigestResponse,
    });
    switch (verdict.outcome) {
      case 'accept':
        await this.enrollments.recordUserAuthenticate(enrollment, 'accepted', null, msg.UserLongName, now);
        ctx.logFields.userAuthenticate = 'accepted';
        return { status: 200, plist: { AuthToken: verdict.authToken } };
      case 'wrong-password':
        await this.enrollments.recordUserAuthenticate(enrollment, 'rejected', null, msg.UserLongName, now);
        ctx.logFields.userAuthenticate = 'wrong password';
        return { status: 200, plist: { AuthToken: '' } };
      case 'decline':
        await this.enrollments.recordUserAuthenticate(enrollment, 'declined', null, msg.UserLongName, now);
        ctx.logFields.userAuthenticate = 'declined';
        return DECLINED;
    }
  }
}
