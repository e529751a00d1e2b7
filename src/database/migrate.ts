// Applies pending migrations and exits: `node dist/database/migrate.js` (or `npm run
// migration:run`), e.g. as a Kubernetes Job before a rollout. Same configuration as the server.
import 'reflect-metadata';
import { loadConfigOrExit } from '../config/config.js';
import { databaseConfig } from '../config/namespaces.js';
import { AppLogger } from '../logging/app-logger.js';
import { openDatabase } from './database.module.js';

async function migrate(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = new AppLogger(config.logLevel, config.logFormat);
  try {
    const ds = await openDatabase(databaseConfig.slice(config), logger);
    await ds.destroy();
  } catch (err) {
    logger.emit('error', 'migration failed', { reason: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
}

void migrate();
