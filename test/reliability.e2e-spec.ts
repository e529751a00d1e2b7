import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { loadOrCreateDevCa } from '../src/device-identity/dev-ca.js';
import { DeviceSigner, newUdid, registerSigner, send, xmlMessage } from './support/device.js';
import { DIST_MAIN, serverEnv, waitForLine } from './support/built-server.js';
import { snapshot } from './support/snapshot.js';
import { startBehindProxy } from './support/tcp-proxy.js';
import type { ProxiedApp, TcpProxy } from './support/tcp-proxy.js';
import { startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';
import { createTestDatabase, directView, testDriver } from './support/test-db.js';
import type { TestDatabase } from './support/test-db.js';

describe('schema', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('the committed migrations create exactly the schema the entities describe', async () => {
    const pending = await t.dataSource.driver.createSchemaBuilder().log();
    assert.deepEqual(
      pending.upQueries.map((q) => q.query),
      [],
    );
    assert.equal(await t.dataSource.showMigrations(), false);
  });

  it('every migration can be reverted and applied again', async () => {
    const count = t.dataSource.migrations.length;
    for (let i = 0; i < count; i++) await t.dataSource.undoLastMigration({ transaction: 'each' });
    assert.equal(await t.dataSource.showMigrations(), true);
    const ready = await fetch(`${t.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(JSON.stringify(await ready.json()), /database migrations are pending/);
    await t.dataSource.runMigrations({ transaction: 'each' });
    assert.equal(await t.dataSource.showMigrations(), false);
    assert.equal((await fetch(`${t.url}/readyz`)).status, 200);
  });
});

describe('database outage (MySQL)', { skip: testDriver() !== 'mysql' && 'needs a network database' }, () => {
  let proxied: ProxiedApp;
  let proxy: TcpProxy;
  let t: TestApp;
  let direct: DataSource;

  before(async () => {
    proxied = await startBehindProxy();
    ({ t, proxy, direct } = proxied);
  });
  after(() => proxied.close());

  it('answers 503 with Retry-After, writes nothing, reports not ready, and recovers', async () => {
    const udid = newUdid();
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }))).status, 200);
    const before = await snapshot(direct);

    await proxy.down();
    const r = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }));
    assert.equal(r.status, 503, r.text);
    assert.equal(r.headers.get('retry-after'), '30');
    assert.notEqual(r.status, 401);
    assert.equal((await fetch(`${t.url}/readyz`)).status, 503);
    assert.deepEqual(await snapshot(direct), before);

    await proxy.up();
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      status = (await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }))).status;
    }
    assert.equal(status, 200);
    const rows = await direct.query<{ n: number }[]>('SELECT token_update_count AS n FROM enrollments WHERE id = ?', [
      udid,
    ]);
    assert.equal(Number(rows[0]?.n), 1);
  });
});

describe('the built server (dist/main.js)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => serverEnv(db, extra);

  it('refuses to start in production without SECRETS_KEY, naming the variable', async () => {
    const child = spawn(process.execPath, [DIST_MAIN], { env: env({ NODE_ENV: 'production' }) });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 78);
    assert.match(out, /SECRETS_KEY/);
  });

  it('finishes an in-flight check-in on SIGTERM before it exits', async () => {
    const child = spawn(process.execPath, [DIST_MAIN], { env: env() });
    const line = await waitForLine(child, /check-in server listening/);
    const port = (JSON.parse(line) as { port: number }).port;
    const url = `http://127.0.0.1:${port}`;
    // The server made its development CA in DATA_DIR; the device's identity comes from it.
    const signer = new DeviceSigner((await loadOrCreateDevCa(db.dataDir)).ca, 'signature');
    registerSigner(url, signer);
    const udid = newUdid();
    assert.equal((await send(url, xmlMessage('ipad-authenticate.plist', { UDID: udid }))).status, 200);

    // Start a TokenUpdate, send half its body, then SIGTERM, then the rest.
    const body = xmlMessage('ipad-token-update.plist', { UDID: udid });
    const signature = (await signer.headers(body))['mdm-signature'] ?? '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const reply = new Promise<number>((resolve, reject) => {
      const req = request(`${url}/checkin`, {
        method: 'PUT',
        headers: {
          'content-length': String(body.length),
          'content-type': 'application/x-apple-aspen-mdm-checkin',
          'mdm-signature': signature,
        },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(body.subarray(0, 100));
      setTimeout(() => {
        child.kill('SIGTERM');
        setTimeout(() => req.end(body.subarray(100)), 300);
      }, 200);
    });
    assert.equal(await reply, 200);
    const exit = await exited;
    assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', JSON.stringify(exit));

    const probe = await directView(db);
    const rows = await probe.query<{ enabled: number | boolean }[]>('SELECT enabled FROM enrollments WHERE id = ?', [
      udid,
    ]);
    await probe.destroy();
    assert.equal(Number(rows[0]?.enabled), 1);
  });
});
