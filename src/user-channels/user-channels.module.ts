import { Module } from '@nestjs/common';
import { EnrollmentsModule } from '../enrollments/enrollments.module.js';
import { UserAuthenticateHandler } from './user-authenticate.handler.js';
import { AcceptingUserAuthenticator, USER_AUTHENTICATOR } from './user-authenticator.js';

/**
 * macOS users' UserAuthenticate. The authenticator is replaceable: provide USER_AUTHENTICATOR
 * with an implementation that asks your directory.
 */
@Module({
  imports: [EnrollmentsModule],
  providers: [UserAuthenticateHandler, { provide: USER_AUTHENTICATOR, useClass: AcceptingUserAuthenticator }],
})
export class UserChannelsModule {}
