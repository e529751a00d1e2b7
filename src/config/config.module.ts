import { Global, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { SecretBox } from '../common/secret-box.js';
import { AppLogger } from '../logging/app-logger.js';
import type { AppConfig } from './config.js';
import { CONFIG_NAMESPACES } from './namespaces.js';

/**
 * Makes the checked configuration available everywhere: each module's namespace through
 * `@nestjs/config` (`@Inject(xConfig.KEY)`, and ConfigService), plus the logger and the
 * secrets box. Nothing is read again from `.env` or process.env: every value comes from the
 * AppConfig that loadConfig checked before Nest started (a test's own environment record).
 */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(config: AppConfig, logger: AppLogger, secretBox: SecretBox): DynamicModule {
    return {
      module: AppConfigModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          ignoreEnvVars: true,
          skipProcessEnv: true,
          load: CONFIG_NAMESPACES.map((ns) => ns.of(config)),
        }),
      ],
      providers: [
        { provide: AppLogger, useValue: logger },
        { provide: SecretBox, useValue: secretBox },
      ],
      exports: [AppLogger, SecretBox],
    };
  }
}
