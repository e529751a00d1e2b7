import { Global, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { EnrollmentsModule } from '../enrollments/enrollments.module.js';
import { AuthTokenMiddleware } from './auth-token.middleware.js';
import { UserAuthenticateHandler } from './user-authenticate.handler.js';
import { USER_AUTHENTICATOR } from './user-authenticator.js';
import type { UserAuthenticator } from './user-authenticator.js';

/**
 * The user authenticator, loaded by buildRootModule before Nest starts (a plug-in that cannot be
 * loaded stops the start before a database pool is opened) and provided to the whole app.
 */
@Global()
@Module({})
export class UserAuthenticatorModule {
  static forRoot(authenticator: UserAuthenticator): DynamicModule {
    return {
      module: UserAuthenticatorModule,
      providers: [{ provide: USER_AUTHENTICATOR, useValue: authenticator }],
      exports: [USER_AUTHENTICATOR],
    };
  }
}

/**
 * macOS users' UserAuthenticate and the AuthToken check on user channels. The authenticator
 * is a plug-in: USER_AUTHENTICATOR_MODULE names an ES module whose default export builds it
 * (README, "Plugging in your directory").
 */
@Module({
  imports: [EnrollmentsModule],
  providers: [UserAuthenticateHandler, AuthTokenMiddleware],
  exports: [AuthTokenMiddleware],
})
export class UserChannelsModule {}
