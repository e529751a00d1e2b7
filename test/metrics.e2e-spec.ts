import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runServer, serverEnv, statusOf } from './support/built-server.js';
import { newUdid, send, xmlMessage } from './support/device.js';
import { startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';
import { createTestDatabase } from './support/test-db.js';
import type { TestDatabase } from './support/test-db.js';

/** The value of one sample of a Prometheus text exposition, or undefined when it is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (have.size === wanted.length && wanted.every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('metrics: METRICS_PORT set', () => {
  let t: TestApp;
  before(async () => {
    // Two pooled connections on MySQL, so the test can exhaust the pool.
    t = await startTestApp({ METRICS_PORT: '0', DATABASE_POOL_SIZE: '2' });
  });
  after(async () => {
    await t.close();
  });

  it('counts check-ins by message type and status, and identity refusals by reason', async () => {
    assert.ok(t.signer && t.metricsUrl);
    const udid = newUdid();
    for (const name of ['ipad-authenticate.plist', 'ipad-token-update.plist', 'ipad-token-update.plist']) {
      const r = await send(t.url, xmlMessage(name, { UDID: udid }), {});
      assert.equal(r.status, 200, r.text);
    }
    // No proof at all: refused before the body is decoded.
    assert.equal(
      (await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }), { sign: false })).status,
      400,
    );
    // A certificate of the CA that is not bound to this device.
    const stranger = await t.signer.identityFor('a-stranger');
    const r403 = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }), { identity: stranger });
    assert.equal(r403.status, 403, r403.text);
    // A MessageType nobody documents: counted as `unknown`, never under its own name.
    const garbage = 'Evil"}\nmdm_fake 1';
    assert.equal((await send(t.url, xmlMessage('ipad-token-update.plist', { MessageType: garbage }))).status, 400);

    const text = await scrape(t.metricsUrl);
    const requests = (message_type: string, status: string): number | undefined =>
      sample(text, 'mdm_checkin_requests_total', { message_type, status });
    assert.equal(requests('Authenticate', '200'), 1);
    assert.equal(requests('TokenUpdate', '200'), 2);
    assert.equal(requests('TokenUpdate', '403'), 1);
    assert.equal(requests('none', '400'), 1);
    assert.equal(requests('unknown', '400'), 1);
    assert.doesNotMatch(text, /Evil|mdm_fake/);
    const durations = (type: string): number | undefined =>
      sample(text, 'mdm_checkin_request_duration_seconds_count', { message_type: type });
    assert.equal(durations('TokenUpdate'), 3);
    assert.equal(durations('Authenticate'), 1);
    assert.equal(
      sample(text, 'mdm_checkin_request_duration_seconds_bucket', { message_type: 'TokenUpdate', le: '+Inf' }),
      3,
    );
    const refusals = (reason: string): number | undefined =>
      sample(text, 'mdm_checkin_identity_refusals_total', { reason });
    assert.equal(refusals('proof_missing'), 1);
    assert.equal(refusals('certificate_not_bound'), 1);
    assert.equal(refusals('certificate_revoked'), 0);
    assert.equal(refusals('proof_invalid'), 0);

    // The log line of a refusal carries the same code.
    const lines = t.logs.entries().filter((l) => l.msg === 'checkin' && l.identityRefusal !== undefined);
    assert.deepEqual(
      lines.map((l) => [l.status, l.identityRefusal]),
      [
        [400, 'proof_missing'],
        [403, 'certificate_not_bound'],
      ],
    );
  });

  it("serves the process's own metrics", async () => {
    assert.ok(t.metricsUrl);
    const text = await scrape(t.metricsUrl);
    assert.ok((sample(text, 'process_cpu_user_seconds_total') ?? 0) > 0);
    assert.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 0);
    assert.ok(sample(text, 'nodejs_eventloop_lag_seconds') !== undefined);
  });

  it('the MySQL pool: connections in use and requests waiting, read at scrape time (none on SQLite)', async () => {
    assert.ok(t.metricsUrl);
    if (t.db.driver === 'sqlite') {
      const text = await scrape(t.metricsUrl);
      assert.doesNotMatch(text, /mdm_db_pool/);
      return;
    }
    assert.equal(sample(await scrape(t.metricsUrl), 'mdm_db_pool_connections_in_use'), 0);
    // Both pooled connections held; a third query waits for one.
    const held = [t.dataSource.createQueryRunner(), t.dataSource.createQueryRunner()];
    let waiting: Promise<unknown> | undefined;
    try {
      for (const q of held) await q.connect();
      waiting = t.dataSource.query('SELECT 1');
      const text = await scrape(t.metricsUrl);
      assert.equal(sample(text, 'mdm_db_pool_connections_in_use'), 2);
      assert.equal(sample(text, 'mdm_db_pool_connections_idle'), 0);
      assert.equal(sample(text, 'mdm_db_pool_waiting_requests'), 1);
      assert.equal(sample(text, 'mdm_db_pool_connections_max'), 2);
    } finally {
      for (const q of held) await q.release();
    }
    await waiting;
    const after = await scrape(t.metricsUrl);
    assert.equal(sample(after, 'mdm_db_pool_connections_in_use'), 0);
    assert.equal(sample(after, 'mdm_db_pool_waiting_requests'), 0);
  });

  it('is never on the device port', async () => {
    assert.equal((await fetch(`${t.url}/metrics`)).status, 404);
  });
});

describe('metrics: the built server', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  const env = (extra: Record<string, string>): NodeJS.ProcessEnv =>
    serverEnv(db, { LOG_FORMAT: 'text', HOST: '127.0.0.1', ...extra });

  it('without METRICS_PORT nothing serves metrics', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    let onMetricsPort: number | string = 0;
    let onDevicePort: number | string = 0;
    const run = await runServer(env({ PORT: String(port) }), /check-in server listening/, async () => {
      onMetricsPort = await statusOf('127.0.0.1', metricsPort, '/metrics');
      onDevicePort = await statusOf('127.0.0.1', port, '/metrics');
    });
    assert.equal(onMetricsPort, 'ECONNREFUSED');
    assert.equal(onDevicePort, 404);
    assert.doesNotMatch(run.lines.join('\n'), /metrics listening/);
  });

  it('with METRICS_PORT: /metrics there, on HOST only, not on the device port; closed on SIGTERM', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const seen: (number | string)[] = [];
    const run = await runServer(
      env({ PORT: String(port), METRICS_PORT: String(metricsPort) }),
      /metrics listening/,
      async (line) => {
        assert.match(line, new RegExp(`address=127\\.0\\.0\\.1 port=${metricsPort} path=/metrics`));
        seen.push(await statusOf('127.0.0.1', metricsPort, '/metrics'));
        seen.push(await statusOf('127.0.0.1', metricsPort, '/elsewhere'));
        seen.push(await statusOf('127.0.0.2', metricsPort, '/metrics'));
        seen.push(await statusOf('127.0.0.1', port, '/metrics'));
      },
    );
    assert.deepEqual(seen, [200, 404, 'ECONNREFUSED', 404]);
    assert.ok(run.code === 0 || run.signal === 'SIGTERM', run.lines.join('\n'));
    assert.match(run.lines.join('\n'), /INFO +shut down signal=SIGTERM/);
  });

  /** Exit 78 with one line that names METRICS_PORT. */
  async function refusesToStart(extra: Record<string, string>, why: RegExp): Promise<void> {
    const run = await runServer(env(extra));
    assert.equal(run.code, 78, run.lines.join('\n'));
    const errors = run.lines.filter((l) => / ERROR /.test(l));
    assert.equal(errors.length, 1, run.lines.join('\n'));
    assert.match(errors[0] ?? '', /Invalid configuration: METRICS_PORT /);
    assert.match(errors[0] ?? '', why);
  }

  it('a METRICS_PORT that is not a port: exit 78 naming it', () =>
    refusesToStart({ METRICS_PORT: 'ninety' }, /whole number/));

  it('METRICS_PORT equal to PORT: exit 78 naming it', () =>
    refusesToStart({ PORT: '8443', METRICS_PORT: '8443' }, /must differ from PORT/));
});
