import 'reflect-metadata';
import type { DynamicModule, NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { setupApiDocs } from './admin/openapi.js';
import { AppModule } from './app.module.js';
import { routeCheckinsDirectly } from './checkin/checkin-lane.js';
import { loadOrCreateDevKey, SecretBox } from './common/secret-box.js';
import { checkConfigFiles } from './config/config-files.js';
import type { AppConfig } from './config/config.js';
import type { AppLogger } from './logging/app-logger.js';
import { loadUserAuthenticator } from './user-channels/user-authenticator.js';

/** The secrets key: SECRETS_KEY, or outside production the development key in the data folder. */
export function secretBoxFor(config: AppConfig, logger: AppLogger): SecretBox {
  if (config.secretsKey !== undefined) return new SecretBox(config.secretsKey, config.secretsPreviousKeys);
  if (config.production) throw new Error('SECRETS_KEY is required in production');
  const dev = loadOrCreateDevKey(config.dataDir);
  logger.emit('warn', dev.created ? 'created a development secrets key' : 'using the development secrets key', {
    path: dev.path,
    hint: 'set SECRETS_KEY (openssl rand -base64 32) before storing real devices; production refuses to start without it',
  });
  return new SecretBox(dev.key, config.secretsPreviousKeys);
}

/**
 * The root module, after the checks that must pass before Nest builds anything: key material
 * that can be wrong is read before a database pool is opened, the user authenticator plug-in
 * is loaded, the secrets key is chosen. main.ts (through {@link createApp}) and the end-to-end
 * tests (through `Test.createTestingModule`) both start from it.
 */
export async function buildRootModule(config: AppConfig, logger: AppLogger): Promise<DynamicModule> {
  checkConfigFiles(config);
  const userAuth = await loadUserAuthenticator(config, logger);
  const secretBox = secretBoxFor(config, logger);
  // Key ids (not the keys) let an operator match a SECRET_UNREADABLE log line to a key.
  logger.emit('info', 'secrets key', { keyId: secretBox.currentKeyId, previousKeyIds: secretBox.previousKeyIds });
  if (config.adminApiKey === undefined) {
    logger.emit('warn', 'the admin API (/api) is disabled because ADMIN_API_KEY is not set');
  }
  return AppModule.forRoot(config, logger, secretBox, userAuth);
}

/** How the HTTP application is created, for NestFactory.create and TestingModule.createNestApplication. */
export function appOptions(logger: AppLogger): NestApplicationOptions {
  return {
    logger,
    // The check-in endpoint reads its own raw body (signatures cover the exact bytes); no
    // other route takes a body yet.
    bodyParser: false,
    abortOnError: false,
  };
}

/** What is set on the application once it exists, before it listens. */
export function configureApp(app: NestExpressApplication, config: AppConfig): NestExpressApplication {
  app.disable('x-powered-by');
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  setupApiDocs(app, config);
  routeCheckinsDirectly(app);
  return app;
}

/** Builds the whole application (not yet listening), as main.ts serves it. */
export async function createApp(config: AppConfig, logger: AppLogger): Promise<NestExpressApplication> {
  const root = await buildRootModule(config, logger);
  return configureApp(await NestFactory.create<NestExpressApplication>(root, appOptions(logger)), config);
}
