// The TypeORM CLI data source (typeorm migration:show / migration:revert -d .build/ormconfig.js),
// configured from the same environment variables as the server. The server itself applies
// pending migrations at start-up; `npm run migration:run` does it without starting the server.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from './src/config/config.js';
import { dataSourceOptions } from './src/database/data-source-options.js';
import { DEVICE_IDENTITY_ENTITIES } from './src/device-identity/entities/index.js';
import { ENROLLMENTS_ENTITIES } from './src/enrollments/entities/index.js';
import { TOKENS_ENTITIES } from './src/tokens/entities/index.js';
import { USER_CHANNELS_ENTITIES } from './src/user-channels/entities/index.js';

// The server's modules register their entities themselves (TypeOrmModule.forFeature); the CLI
// has no Nest application, so it lists them (migration:generate compares them to the schema).
const ENTITIES = [...ENROLLMENTS_ENTITIES, ...USER_CHANNELS_ENTITIES, ...DEVICE_IDENTITY_ENTITIES, ...TOKENS_ENTITIES];

const config = loadConfig();
export default new DataSource(
  dataSourceOptions(config.database, config.databasePoolSize, undefined, config.databaseTimeoutMs, ENTITIES),
);
