import { Module } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.js';
import type { AppConfig } from '../config/config.js';
import { EnrollmentsModule } from '../enrollments/enrollments.module.js';
import { AppLogger } from '../logging/app-logger.js';
import { AuthTokenMiddleware } from './auth-token.middleware.js';
import { UserAuthenticateHandler } from './user-authenticate.handler.js';
import { loadUserAuthenticator, USER_AUTHENTICATOR } from './user-authenticator.js';

/**
 * macOS users' UserAuthenticate and the AuthToken check on user channels. The authenticator
 * is a plug-in: USER_AUTHENTICATOR_MODULE names an ES module whose default export builds it
 * (README, "Plugging in your directory").
 */
@Module({
  imports: [EnrollmentsModule],
  providers: [
    UserAuthenticateHandler,
    AuthTokenMiddleware,
    {
      provide: USER_AUTHENTICATOR,
      inject: [APP_CONFIG, AppLogger],
      useFactory: (config: AppConfig, logger: AppLogger) => loadUserAuthenticator(config, logger),
    },
  ],
  exports: [AuthTokenMiddleware],
})
export class UserChannelsModule {}
