#!/usr/bin/env node
// Builds the project and the tests with tsc, then runs every test with Node's own test
// runner against the compiled JavaScript: unit specs once, end-to-end specs once per
// database (embedded SQLite, and the MySQL/MariaDB server of TEST_MYSQL_URL).
//
//   npm test                    unit + e2e on SQLite + e2e on MariaDB/MySQL
//   npm test -- --db sqlite     unit + e2e on SQLite only
//   npm test -- --db mysql      e2e on MariaDB/MySQL only
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

const args = process.argv.slice(2);
const dbArg = args.includes('--db') ? args[args.indexOf('--db') + 1] : 'all';
if (!['all', 'sqlite', 'mysql'].includes(dbArg)) {
  console.error(`unknown --db ${dbArg}: use sqlite, mysql or leave it out for both`);
  process.exit(2);
}
const mysqlUrl = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

function run(cmd, cmdArgs, env = {}) {
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function files(dir, suffix) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p, suffix) : p.endsWith(suffix) ? [p] : [];
  });
}

function reachable(url) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = createConnection({ host: u.hostname, port: Number(u.port || 3306) });
    s.setTimeout(2000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('timeout', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(false));
  });
}

// dist/ as `npm run build` makes it (nest build), for the tests that start dist/main.js.
console.log('building (tsc -p tsconfig.json, and nest build for dist/)…');
rmSync('.build', { recursive: true, force: true });
if (run('npx', ['tsc', '-p', 'tsconfig.json']) !== 0 || run('npx', ['nest', 'build']) !== 0) {
  console.error('build failed');
  process.exit(1);
}

mkdirSync('.build/reports', { recursive: true });
const unit = files('.build/src', '.spec.js').sort();
const e2e = files('.build/test', '.e2e-spec.js').sort();
const suites = [];
if (dbArg !== 'mysql') suites.push({ name: 'sqlite', files: [...unit, ...e2e], env: { TEST_DATABASE_URL: 'sqlite:' } });
if (dbArg !== 'sqlite') {
  if (!(await reachable(mysqlUrl))) {
    console.error(
      `MySQL/MariaDB does not answer at ${new URL(mysqlUrl).host} (TEST_MYSQL_URL). ` +
        'Start it, or run only the SQLite suite with: npm test -- --db sqlite',
    );
    process.exit(1);
  }
  suites.push({ name: 'mysql', files: e2e, env: { TEST_DATABASE_URL: mysqlUrl } });
}

let passed = 0;
let failed = 0;
let status = 0;
for (const suite of suites) {
  console.log(`\n=== ${suite.name}: ${suite.files.length} test files ===`);
  const tap = `.build/reports/${suite.name}.tap`;
  const code = run(
    process.execPath,
    [
      '--test',
      '--test-concurrency=2',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...suite.files,
    ],
    { ...suite.env, LOG_LEVEL: 'error' },
  );
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const p = Number(/^# pass (\d+)/m.exec(text)?.[1] ?? 0);
  const f = Number(/^# fail (\d+)/m.exec(text)?.[1] ?? 0);
  console.log(`${suite.name}: ${p} passed, ${f} failed`);
  passed += p;
  failed += f;
  if (code !== 0) status = code;
  if (p === 0) status = status || 1;
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(status);
