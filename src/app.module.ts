import { Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { AdminModule } from './admin/admin.module.js';
import { CheckinModule } from './checkin/checkin.module.js';
import { CHECKIN_PIPELINE } from './checkin.wiring.js';
import type { SecretBox } from './common/secret-box.js';
import type { AppConfig } from './config/config.js';
import { AppConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { EnrollmentsModule } from './enrollments/enrollments.module.js';
import { HealthModule } from './health/health.module.js';
import { GracefulShutdown } from './lifecycle/graceful-shutdown.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { TokensModule } from './tokens/tokens.module.js';
import { UserAuthenticatorModule, UserChannelsModule } from './user-channels/user-channels.module.js';
import type { UserAuthenticator } from './user-channels/user-authenticator.js';
import type { AppLogger } from './logging/app-logger.js';

@Module({})
export class AppModule {
  static forRoot(
    config: AppConfig,
    logger: AppLogger,
    secretBox: SecretBox,
    userAuthenticator: UserAuthenticator,
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config, logger, secretBox),
        DatabaseModule,
        CheckinModule.forRoot(CHECKIN_PIPELINE),
        EnrollmentsModule,
        AdminModule,
        TokensModule,
        UserAuthenticatorModule.forRoot(userAuthenticator),
        UserChannelsModule,
        HealthModule,
        MetricsModule,
      ],
      providers: [GracefulShutdown],
    };
  }
}
