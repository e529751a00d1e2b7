import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Database } from 'better-sqlite3';
import { startBehindProxy } from './support/tcp-proxy.js';
import { startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';
import { testDriver } from './support/test-db.js';

interface Indicator {
  status: 'up' | 'down';
  message?: string;
  pending?: string[];
  applied?: number;
}
interface Health {
  status: string;
  info: Record<string, Indicator>;
  error: Record<string, Indicator>;
  details: Record<string, Indicator>;
}

async function probe(t: TestApp, path: string): Promise<{ status: number; body: Health; cache: string | null }> {
  const res = await fetch(`${t.url}${path}`);
  return { status: res.status, body: (await res.json()) as Health, cache: res.headers.get('cache-control') };
}

describe('health probes (terminus)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('liveness: 200, checks nothing, never cached', async () => {
    const live = await probe(t, '/healthz');
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { status: 'ok', info: {}, error: {}, details: {} });
    assert.match(live.cache ?? '', /no-store/);
  });

  it('readiness: 200 with the database and the migrations up', async () => {
    const ready = await probe(t, '/readyz');
    assert.equal(ready.status, 200);
    const applied = t.dataSource.migrations.length;
    assert.ok(applied >= 6);
    assert.deepEqual(ready.body, {
      status: 'ok',
      info: { database: { status: 'up' }, migrations: { status: 'up', applied } },
      error: {},
      details: { database: { status: 'up' }, migrations: { status: 'up', applied } },
    });
    assert.match(ready.cache ?? '', /no-store/);
  });

  it('readiness: 503 naming the pending migration, 200 again once it is applied', async () => {
    const last = t.dataSource.migrations[t.dataSource.migrations.length - 1]?.name;
    assert.ok(last !== undefined);
    await t.dataSource.undoLastMigration({ transaction: 'each' });
    try {
      const ready = await probe(t, '/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, 'error');
      assert.deepEqual(ready.body.error, {
        migrations: { status: 'down', message: 'database migrations are pending', pending: [last] },
      });
      assert.deepEqual(ready.body.info, { database: { status: 'up' } });
      // Liveness does not depend on the database: the pod is not restarted for a pending migration.
      assert.equal((await probe(t, '/healthz')).status, 200);
    } finally {
      await t.dataSource.runMigrations({ transaction: 'each' });
    }
    assert.equal((await probe(t, '/readyz')).status, 200);
  });
});

describe('readiness with the database gone', () => {
  it('503 saying which check failed, with no driver detail in the answer (it is logged)', async () => {
    let ready: Awaited<ReturnType<typeof probe>>;
    let t: TestApp;
    let close: () => Promise<void>;
    if (testDriver() === 'mysql') {
      const proxied = await startBehindProxy({ DATABASE_TIMEOUT_MS: '1000' });
      t = proxied.t;
      close = () => proxied.close();
      await proxied.proxy.down();
    } else {
      t = await startTestApp();
      close = () => t.close();
      // The embedded database's handle closed under the application: every query now fails.
      (t.dataSource.driver as unknown as { databaseConnection: Database }).databaseConnection.close();
    }
    try {
      assert.equal((await probe(t, '/healthz')).status, 200);
      ready = await probe(t, '/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, 'error');
      assert.deepEqual(ready.body.error.database, { status: 'down', message: 'database unreachable' });
      assert.equal(ready.body.error.migrations?.status, 'down');
      const text = JSON.stringify(ready.body);
      assert.doesNotMatch(text, /127\.0\.0\.1|root|sqlite|ECONN|connection is not open/i, text);
      const logged = t.logs.entries().filter((e) => String(e.msg).startsWith('readiness check failed'));
      assert.ok(logged.some((e) => typeof e.reason === 'string' && e.reason.length > 0));
    } finally {
      await close();
    }
  });
});
