// Applies pending migrations and exits: `node dist/database/migrate.js` (or `npm run
// migration:run`), e.g. as a Kubernetes Job before a rollout. Same configuration as the server.
import 'reflect-metadata';
import { ConfigError, loadConfig } from '../config/config.js';
import { AppLogger } from '../logging/app-logger.js';
import { openDatabase } from './database.module.js';

async function migrate(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      new AppLogger('error', 'text').emit('error', err.message, { variable: err.variable });
      process.exit(78);
    }
    throw err;
  }
  const logger = new AppLogger(config.logLevel, config.logFormat);
  try {
    const ds = await openDatabase(config, logger);
    await ds.destroy();
  } catch (err) {
    logger.emit('error', 'migration failed', { reason: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
}

void migrate();
