import { createApp } from './app.factory.js';
import { ConfigError, exitOnConfigError, loadConfigOrExit } from './config/config.js';
import { AppLogger } from './logging/app-logger.js';
import { MetricsServer } from './metrics/metrics.server.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = new AppLogger(config.logLevel, config.logFormat);
  try {
    const app = await createApp(config, logger);
    // HOST binds one address; without it Node listens on every interface.
    await (config.host === undefined ? app.listen(config.port) : app.listen(config.port, config.host));
    const address = app.getHttpServer().address();
    logger.emit('info', 'check-in server listening', {
      ...(typeof address === 'object' && address !== null
        ? { address: address.address, port: address.port }
        : { port: config.port }),
      database: config.database.driver,
      pushTopics: config.pushTopics.length > 0 ? config.pushTopics : 'any com.apple.mgmt.*',
    });
    // METRICS_PORT: a separate server, once the device port is up.
    await app.get(MetricsServer).listen();
  } catch (err) {
    if (err instanceof ConfigError) exitOnConfigError(err);
    // The one line that says why: Nest's own report of the same error is not logged.
    logger.emit('error', 'start-up failed', {
      reason: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    process.exit(1);
  }
}

void main();
