// Seals every stored secret again under the current SECRETS_KEY, after a key rotation:
// `node dist/database/reseal-secrets.js` (or `npm run secrets:reseal`), with the same
// configuration as the server and the old key still in SECRETS_PREVIOUS_KEYS. Safe to run
// while the server runs, and to run again (it resumes: current values are skipped). Once it
// reports no failure anywhere, the old key can be dropped from SECRETS_PREVIOUS_KEYS.
import 'reflect-metadata';
import { secretBoxFor } from '../app.factory.js';
import { loadConfigOrExit } from '../config/config.js';
import { databaseConfig } from '../config/namespaces.js';
import { AppLogger } from '../logging/app-logger.js';
import { openDatabase } from './database.module.js';
import { DatabaseService } from './database.service.js';
import { resealColumn, SEALED_COLUMNS } from './reseal.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = new AppLogger(config.logLevel, config.logFormat);
  const box = secretBoxFor(config, logger);
  const ds = await openDatabase(databaseConfig.slice(config), logger, { migrate: false });
  let failed = 0;
  try {
    if (await ds.showMigrations()) {
      logger.emit('error', 'the database has pending migrations: run them first (npm run migration:run)');
      process.exitCode = 1;
      return;
    }
    const db = new DatabaseService(ds, databaseConfig.slice(config));
    out(`resealing under key ${box.currentKeyId}`);
    for (const col of SEALED_COLUMNS) {
      const name = `${col.table}.${col.column}`;
      const counts = await resealColumn(db, box, col, logger, 500, (c, lastId) =>
        out(`${name}: ${c.examined} examined so far (up to id ${lastId})`),
      );
      failed += counts.failed;
      out(
        `${name}: examined ${counts.examined}, resealed ${counts.resealed}, already current ${counts.alreadyCurrent}, ` +
          `changed meanwhile ${counts.changedMeanwhile}, failed ${counts.failed}`,
      );
    }
    out(
      failed === 0
        ? 'done: every stored secret is sealed under the current key; the previous keys can be dropped'
        : `done with ${failed} failure(s): keep the previous keys, fix the rows logged above, run again`,
    );
    if (failed > 0) process.exitCode = 2;
  } finally {
    await ds.destroy();
  }
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`reseal failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
