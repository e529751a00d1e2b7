import { Global, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { SecretBox } from '../common/secret-box.js';
import { AppLogger } from '../logging/app-logger.js';
import { APP_CONFIG } from './config.js';
import type { AppConfig } from './config.js';

/** Makes the checked configuration, the logger and the secrets box available everywhere. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig, logger: AppLogger, secretBox: SecretBox): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: AppLogger, useValue: logger },
        { provide: SecretBox, useValue: secretBox },
      ],
      exports: [APP_CONFIG, AppLogger, SecretBox],
    };
  }
}
