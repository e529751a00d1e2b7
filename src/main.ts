import { createApp } from './app.factory.js';
import { loadConfigOrExit } from './config/config.js';
import { AppLogger } from './logging/app-logger.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = new AppLogger(config.logLevel, config.logFormat);
  try {
    const app = await createApp(config, logger);
    await app.listen(config.port);
    const address = app.getHttpServer().address();
    logger.emit('info', 'check-in server listening', {
      port: typeof address === 'object' && address !== null ? address.port : config.port,
      database: config.database.driver,
      pushTopics: config.pushTopics.length > 0 ? config.pushTopics : 'any com.apple.mgmt.*',
    });
  } catch (err) {
    logger.emit('error', 'start-up failed', {
      reason: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    process.exit(1);
  }
}

void main();
