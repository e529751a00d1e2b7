import { Global, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EnrollmentsModule } from '../enrollments/enrollments.module.js';
import { AuthTokenMiddleware } from './auth-token.middleware.js';
import { USER_CHANNELS_ENTITIES } from './entities/index.js';
import { UserCheckOutHandler } from './handlers/user-check-out.handler.js';
import { UserTokenUpdateHandler } from './handlers/user-token-update.handler.js';
import { UserAuthenticateHandler } from './user-authenticate.handler.js';
import { UserChannelsService } from './user-channels.service.js';
import { UsersRepository } from './users.repository.js';
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
 * User channels (macOS users, Shared iPad users, User Enrollment users) and the users table:
 * their TokenUpdate and CheckOut, macOS users' UserAuthenticate and the AuthToken check. It
 * reaches enrollments only through EnrollmentsService (enrollments never calls back). The
 * authenticator is a plug-in: USER_AUTHENTICATOR_MODULE names an ES module whose default
 * export builds it (README, "Plugging in your directory").
 */
@Module({
  imports: [TypeOrmModule.forFeature(USER_CHANNELS_ENTITIES), EnrollmentsModule],
  providers: [
    UsersRepository,
    UserChannelsService,
    UserTokenUpdateHandler,
    UserCheckOutHandler,
    UserAuthenticateHandler,
    AuthTokenMiddleware,
  ],
  exports: [UserChannelsService, AuthTokenMiddleware],
})
export class UserChannelsModule {}
