/**
 * `npm run openapi`: writes docs/openapi.yaml from the code. The application is built on a
 * throw-away SQLite database in a temporary folder (no database server, no network), its
 * document generated, and everything removed again. `--check` only compares, exit code 1
 * when the file differs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApp } from '../app.factory.js';
import { loadConfig } from '../config/config.js';
import { AppLogger } from '../logging/app-logger.js';
import { buildOpenApiDocument, openApiYaml } from './openapi.js';

async function main(): Promise<void> {
  const target = resolve('docs/openapi.yaml');
  const check = process.argv.includes('--check');
  const dir = mkdtempSync(join(tmpdir(), 'mdm-openapi-'));
  try {
    const config = loadConfig({
      NODE_ENV: 'development',
      DATABASE_URL: `sqlite:${join(dir, 'mdm.sqlite')}`,
      DATA_DIR: dir,
      LOG_LEVEL: 'error',
    });
    const app = await createApp(config, new AppLogger('error', 'json', { write: () => undefined }));
    const yaml = openApiYaml(buildOpenApiDocument(app));
    await app.close();
    if (!check) {
      writeFileSync(target, yaml);
      console.log(`wrote ${target}`);
    } else if (readFileSync(target, 'utf8') !== yaml) {
      console.error(`${target} differs from what the code describes: run \`npm run openapi\` and commit it`);
      process.exitCode = 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
