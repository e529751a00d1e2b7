// The TypeORM CLI data source (typeorm migration:show / migration:revert -d .build/ormconfig.js),
// configured from the same environment variables as the server. The server itself applies
// pending migrations at start-up; `npm run migration:run` does it without starting the server.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from './src/config/config.js';
import { dataSourceOptions } from './src/database/data-source-options.js';

const config = loadConfig();
export default new DataSource(dataSourceOptions(config.database, config.databasePoolSize));
