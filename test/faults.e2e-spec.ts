import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { SecretBox, secretsKeyId } from '../src/common/secret-box.js';
import { bootstrapTokenAad, unlockTokenAad } from '../src/enrollments/enrollments.service.js';
import type { DeviceSigner } from './support/device.js';
import { newUdid, parseReply, registerSigner, send, signerFor, xmlMessage } from './support/device.js';
import { snapshot } from './support/snapshot.js';
import { startBehindProxy } from './support/tcp-proxy.js';
import type { ProxiedApp, TcpProxy } from './support/tcp-proxy.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';
import { createTestDatabase, directView, testDriver } from './support/test-db.js';
import type { TestDatabase } from './support/test-db.js';
import { sealV1 } from './support/sealed-v1.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function admin(t: TestApp, path: string): Promise<Response> {
  return fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
}

/** Authenticate + TokenUpdate of a fresh iPad; returns its UDID. */
async function enroll(t: TestApp): Promise<string> {
  const udid = newUdid();
  assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }))).status, 200);
  assert.equal((await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }))).status, 200);
  return udid;
}

/** The first log line matching `match`, waiting for it a while (the server logs after answering). */
async function logLine(t: TestApp, match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const found = t.logs.entries().find(match);
    if (found !== undefined) return found;
    await sleep(25);
  }
  assert.fail('the expected log line never came');
}

/** A plain connection to the test database, beside the application's. */

describe(
  'a database that drops packets (MySQL)',
  { skip: testDriver() !== 'mysql' && 'needs a network database' },
  () => {
    let proxied: ProxiedApp;
    let proxy: TcpProxy;
    let t: TestApp;
    let direct: DataSource;

    before(async () => {
      proxied = await startBehindProxy({ DATABASE_TIMEOUT_MS: '500', DATABASE_POOL_SIZE: '2' });
      ({ t, proxy, direct } = proxied);
    });
    after(() => proxied.close());

    // The test's own timeout is the bound: before DATABASE_TIMEOUT_MS these requests hung for
    // about a minute (the kernel's TCP retransmission timeout).
    it(
      'check-ins, /readyz and the admin API answer 503 + Retry-After, write nothing, and recover',
      { timeout: 30_000 },
      async () => {
        const udid = await enroll(t);
        const before = await snapshot(direct);

        proxy.blackHole();
        // More check-ins than pooled connections: the first ones time out on their query, the
        // others while waiting for a connection, then on connecting anew through the silent proxy.
        const [ready, api, ...checkins] = await Promise.all([
          fetch(`${t.url}/readyz`),
          admin(t, `/api/v1/devices/${udid}`),
          ...Array.from({ length: 5 }, () => send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }))),
        ]);
        for (const r of checkins) {
          assert.equal(r.status, 503, r.text);
          assert.equal(r.headers.get('retry-after'), '30');
        }
        assert.equal(ready.status, 503);
        assert.equal(api.status, 503, await api.text());
        assert.equal(api.headers.get('retry-after'), '30');
        // Once the pool's connections were cut, new ones time out while connecting: still 503.
        const again = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }));
        assert.equal(again.status, 503, again.text);
        assert.equal((await admin(t, '/api/v1/enrollments/x')).status, 503);

        const failures = t.logs.entries().filter((e) => e.msg === 'checkin' && e.status === 503);
        assert.ok(failures.length >= 6);
        for (const f of failures) {
          assert.equal(f.error, 'DATABASE_UNAVAILABLE');
          assert.equal(f.stack, undefined);
        }

        await proxy.up();
        assert.deepEqual(await snapshot(direct), before);
        let status = 0;
        for (let i = 0; i < 20 && status !== 200; i++) {
          status = (await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }))).status;
        }
        assert.equal(status, 200);
        assert.equal((await fetch(`${t.url}/readyz`)).status, 200);
        assert.equal((await admin(t, `/api/v1/devices/${udid}`)).status, 200);
      },
    );
  },
);

describe(
  'deadlocks between Authenticate and TokenUpdate of one device (MySQL)',
  { skip: testDriver() !== 'mysql' && 'InnoDB only' },
  () => {
    let t: TestApp;
    let direct: DataSource;
    before(async () => {
      // Without signature checks the messages reach the database closer together: more deadlocks.
      t = await startTestApp({ DEVICE_AUTH: 'none', DATABASE_POOL_SIZE: '20' });
      direct = await directView(t.db);
    });
    after(async () => {
      await direct.destroy();
      await t.close();
    });

    it(
      'a single-statement TokenUpdate chosen as a deadlock victim is run again: 200',
      { timeout: 60_000 },
      async () => {
        // Builds the deadlock on purpose: another session holds the device row; the TokenUpdate
        // inserts its enrollment row and then waits for the device row (its foreign-key check);
        // the session then asks for that enrollment row. The session has changed more rows, so
        // InnoDB rolls back the TokenUpdate.
        const udid = newUdid();
        assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }))).status, 200);
        const others: string[] = [];
        for (let i = 0; i < 10; i++) {
          const other = newUdid();
          assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: other }))).status, 200);
          others.push(other);
        }
        const before = await snapshot(direct);
        const session = direct.createQueryRunner();
        await session.connect();
        try {
          await session.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
          await session.query('START TRANSACTION');
          await session.query(
            `UPDATE devices SET device_name = CONCAT(COALESCE(device_name, ''), 'x') WHERE id IN (${others.map(() => '?').join(', ')})`,
            others,
          );
          await session.query('UPDATE devices SET device_name = device_name WHERE id = ?', [udid]);

          const reply = send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid, UnlockToken: undefined }));
          let waiting = 0;
          for (let i = 0; i < 400 && waiting === 0; i++) {
            await sleep(10);
            const rows = await direct.query<{ n: number | string }[]>(
              "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' AND trx_query LIKE ?",
              [`%INSERT INTO enrollments%${udid}%`],
            );
            waiting = Number(rows[0]?.n ?? 0);
          }
          assert.equal(waiting, 1, 'the TokenUpdate should be waiting for the device row');
          // The deadlock: this waits for the TokenUpdate's new row, the TokenUpdate for this session.
          await session.query('SELECT id FROM enrollments WHERE id = ? FOR UPDATE', [udid]);
          await session.query('ROLLBACK');
          const r = await reply;
          assert.equal(r.status, 200, r.text);
        } finally {
          await session.release();
        }
        const rows = await direct.query<{ n: number }[]>(
          'SELECT token_update_count AS n FROM enrollments WHERE id = ?',
          [udid],
        );
        assert.equal(Number(rows[0]?.n), 1);
        const after = await snapshot(direct);
        assert.deepEqual(
          { ...after, enrollments: [] },
          { ...before, enrollments: [] },
          'only the enrollment row was written',
        );
      },
    );

    it('are retried on every path: each message of 40 concurrent rounds gets 200', { timeout: 120_000 }, async () => {
      const udid = await enroll(t);
      const auth = xmlMessage('ipad-authenticate.plist', { UDID: udid });
      // Both TokenUpdate paths: the single statement (no UnlockToken) and the transaction.
      const plain = xmlMessage('ipad-token-update.plist', { UDID: udid, UnlockToken: undefined });
      const withUnlock = xmlMessage('ipad-token-update.plist', { UDID: udid });
      const statuses: number[] = [];
      for (let round = 0; round < 40; round++) {
        const replies = await Promise.all([
          send(t.url, auth),
          send(t.url, plain),
          send(t.url, withUnlock),
          send(t.url, plain),
        ]);
        statuses.push(...replies.map((r) => r.status));
      }
      assert.deepEqual(
        statuses.filter((s) => s !== 200),
        [],
      );
    });
  },
);

describe('SQLite locked by another connection', { skip: testDriver() !== 'sqlite' && 'SQLite only' }, () => {
  let patient: TestApp;
  let hasty: TestApp;
  before(async () => {
    patient = await startTestApp({ DATABASE_TIMEOUT_MS: '20000' });
    hasty = await startTestApp({ DATABASE_TIMEOUT_MS: '300' });
  });
  after(async () => {
    await patient.close();
    await hasty.close();
  });

  function lockHolder(t: TestApp): Database.Database {
    const holder = new Database(t.db.url.slice('sqlite:'.length));
    holder.exec('BEGIN IMMEDIATE');
    return holder;
  }

  it('a check-in waiting for the lock leaves /healthz and the admin API answering, then succeeds', async () => {
    const udid = await enroll(patient);
    const holder = lockHolder(patient);
    let settled = false;
    const pending = send(patient.url, xmlMessage('ipad-token-update.plist', { UDID: udid })).finally(() => {
      settled = true;
    });
    try {
      // Give the check-in time to meet the lock. (A blocking wait in the driver would also
      // block this test, which shares the process: the lock could not be released in time.)
      await sleep(200);
      assert.equal((await fetch(`${patient.url}/healthz`)).status, 200);
      assert.equal((await admin(patient, `/api/v1/devices/${udid}`)).status, 200);
      assert.equal((await fetch(`${patient.url}/readyz`)).status, 200);
      assert.equal(settled, false, 'the check-in should still be waiting for the lock');
    } finally {
      holder.exec('COMMIT');
      holder.close();
    }
    const r = await pending;
    assert.equal(r.status, 200, r.text);
    const rows = await patient.dataSource.query<{ n: number }[]>(
      'SELECT token_update_count AS n FROM enrollments WHERE id = ?',
      [udid],
    );
    assert.equal(Number(rows[0]?.n), 2);
  });

  it('a lock held past DATABASE_TIMEOUT_MS gives 503 + Retry-After and writes nothing', async () => {
    const udid = await enroll(hasty);
    const before = await snapshot(hasty.dataSource);
    const holder = lockHolder(hasty);
    try {
      const r = await send(hasty.url, xmlMessage('ipad-token-update.plist', { UDID: udid }));
      assert.equal(r.status, 503, r.text);
      assert.equal(r.headers.get('retry-after'), '30');
      const auth = await send(hasty.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }));
      assert.equal(auth.status, 503, auth.text);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    assert.deepEqual(await snapshot(hasty.dataSource), before);
    const line = await logLine(hasty, (e) => e.msg === 'checkin' && e.status === 503);
    assert.equal(line.error, 'DATABASE_UNAVAILABLE');
    assert.match(String(line.reason), /locked for 300 ms/);
    assert.equal(line.stack, undefined);
    assert.equal((await send(hasty.url, xmlMessage('ipad-token-update.plist', { UDID: udid }))).status, 200);
  });
});

describe('a client that aborts mid-body', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('is logged as a client abort at info level, without a stack, and changes nothing', async () => {
    const udid = await enroll(t);
    const before = await snapshot(t.dataSource);
    const body = xmlMessage('ipad-token-update.plist', { UDID: udid });
    const identity = (await signerFor(t.url)?.headers(body)) ?? {};
    const port = Number(new URL(t.url).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const head = [
      'PUT /checkin HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Content-Type: application/x-apple-aspen-mdm-checkin',
      `Content-Length: ${body.length}`,
      ...Object.entries(identity).map(([k, v]) => `${k}: ${v}`),
      '',
      '',
    ].join('\r\n');
    socket.write(head);
    socket.write(body.subarray(0, 200));
    await sleep(100);
    socket.destroy();

    const line = await logLine(t, (e) => e.msg === 'checkin' && e.error === 'CLIENT_ABORTED');
    assert.equal(line.level, 'info');
    assert.equal(line.status, 499);
    assert.equal(line.stack, undefined);
    assert.match(String(line.reason), /closed the connection after 200 body bytes/);
    assert.equal(
      t.logs.entries().filter((e) => e.level === 'error').length,
      0,
      'no error line for a client that went away',
    );
    assert.deepEqual(await snapshot(t.dataSource), before);
  });
});

describe('secrets key rotation', () => {
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  const keyC = randomBytes(32);
  const b64 = (k: Buffer): string => k.toString('base64');
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  /** The devices keep their identities across the restarts (the CA stays in DATA_DIR). */
  let devices: DeviceSigner | undefined;

  async function withApp<T>(env: Record<string, string>, work: (t: TestApp) => Promise<T>): Promise<T> {
    const t = await startTestApp(env, db);
    if (devices === undefined) devices = t.signer;
    else registerSigner(t.url, devices);
    try {
      return await work(t);
    } finally {
      await t.close();
    }
  }

  function reseal(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'database', 'reseal-secrets.js')], {
      env: { PATH: process.env.PATH, DATABASE_URL: db.url, DATA_DIR: db.dataDir, LOG_FORMAT: 'json', ...env },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
  }

  function counts(out: string, column: string): Record<string, number> {
    const m = new RegExp(
      `${column}: examined (\\d+), resealed (\\d+), already current (\\d+), changed meanwhile (\\d+), failed (\\d+)`,
    ).exec(out);
    assert.ok(m, out);
    const [examined, resealed, current, meanwhile, failed] = m.slice(1).map(Number);
    return { examined: examined!, resealed: resealed!, current: current!, meanwhile: meanwhile!, failed: failed! };
  }

  async function stored(ds: DataSource, column: string, udid: string): Promise<Buffer> {
    const rows = await ds.query<{ v: Buffer | Uint8Array }[]>(`SELECT ${column} AS v FROM devices WHERE id = ?`, [
      udid,
    ]);
    assert.ok(rows[0]?.v);
    return Buffer.from(rows[0].v);
  }

  const getToken = (t: TestApp, udid: string) =>
    send(t.url, xmlMessage('mac-get-bootstrap-token.plist', { UDID: udid }));

  it(
    'rotate, restart, reseal, drop the old key: everything stays readable; a key left out is a coded 500',
    { timeout: 120_000 },
    async () => {
      const mac = newUdid();
      const legacy = newUdid();
      const unlock = randomBytes(48);
      const bootstrap = randomBytes(40);
      const legacyUnlock = randomBytes(48);

      // 1. Under key A: a Mac escrows an UnlockToken and a bootstrap token; a second device's
      //    UnlockToken is in the first format (written before values named their key).
      await withApp({ SECRETS_KEY: b64(keyA) }, async (t) => {
        assert.equal((await send(t.url, xmlMessage('mac-authenticate.plist', { UDID: mac }))).status, 200);
        const tu = await send(t.url, xmlMessage('mac-token-update.plist', { UDID: mac, UnlockToken: unlock }));
        assert.equal(tu.status, 200, tu.text);
        const set = await send(
          t.url,
          xmlMessage('mac-set-bootstrap-token.plist', { UDID: mac, BootstrapToken: bootstrap }),
        );
        assert.equal(set.status, 200, set.text);
        assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: legacy }))).status, 200);
        assert.equal((await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: legacy }))).status, 200);
        await t.dataSource.query('UPDATE devices SET unlock_token = ? WHERE id = ?', [
          sealV1(keyA, legacyUnlock, unlockTokenAad(legacy)),
          legacy,
        ]);
        assert.equal(
          (await stored(t.dataSource, 'unlock_token', mac)).subarray(1, 5).toString('hex'),
          secretsKeyId(keyA),
        );
      });

      // 2. The key is changed without naming the old one: a coded error and a log line that
      //    names the key to add, no stack trace; nothing is written.
      await withApp({ SECRETS_KEY: b64(keyB) }, async (t) => {
        const before = await snapshot(t.dataSource);
        const r = await getToken(t, mac);
        assert.equal(r.status, 500);
        assert.equal(r.text, 'Internal Server Error\n');
        const line = await logLine(t, (e) => e.msg === 'checkin' && e.status === 500);
        assert.equal(line.error, 'SECRET_UNREADABLE');
        assert.match(String(line.reason), new RegExp(`devices.bootstrap_token:${mac}`));
        assert.match(String(line.reason), new RegExp(`key ${secretsKeyId(keyA)}.*SECRETS_PREVIOUS_KEYS`));
        assert.equal(line.stack, undefined);
        assert.ok(!t.logs.text().includes(bootstrap.toString('base64')));
        assert.deepEqual(await snapshot(t.dataSource), before);
      });

      // 3. Rotated properly: B seals, A still opens. Reseal while the server runs.
      const rotated = { SECRETS_KEY: b64(keyB), SECRETS_PREVIOUS_KEYS: `${b64(randomBytes(32))},${b64(keyA)}` };
      await withApp(rotated, async (t) => {
        const keys = await logLine(t, (e) => e.msg === 'secrets key');
        assert.equal(keys.keyId, secretsKeyId(keyB));
        assert.ok((keys.previousKeyIds as string[]).includes(secretsKeyId(keyA)));
        assert.ok(!t.logs.text().includes(b64(keyA)) && !t.logs.text().includes(b64(keyB)), 'keys never reach the log');
        const r = await getToken(t, mac);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(Buffer.from(parseReply(r).BootstrapToken as Uint8Array), bootstrap);

        const first = await reseal(rotated);
        assert.equal(first.code, 0, first.out);
        assert.deepEqual(counts(first.out, 'devices.unlock_token'), {
          examined: 2,
          resealed: 2,
          current: 0,
          meanwhile: 0,
          failed: 0,
        });
        assert.deepEqual(counts(first.out, 'devices.bootstrap_token'), {
          examined: 1,
          resealed: 1,
          current: 0,
          meanwhile: 0,
          failed: 0,
        });
        // Run again (as after an interruption): nothing left to do.
        const second = await reseal(rotated);
        assert.equal(second.code, 0, second.out);
        assert.deepEqual(counts(second.out, 'devices.unlock_token'), {
          examined: 2,
          resealed: 0,
          current: 2,
          meanwhile: 0,
          failed: 0,
        });
        assert.deepEqual(counts(second.out, 'devices.bootstrap_token'), {
          examined: 1,
          resealed: 0,
          current: 1,
          meanwhile: 0,
          failed: 0,
        });
      });

      // 4. The old key is dropped: everything still opens, all under B.
      await withApp({ SECRETS_KEY: b64(keyB) }, async (t) => {
        const r = await getToken(t, mac);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(Buffer.from(parseReply(r).BootstrapToken as Uint8Array), bootstrap);
        const onlyB = new SecretBox(keyB);
        for (const [udid, column, aad, plain] of [
          [mac, 'unlock_token', unlockTokenAad(mac), unlock],
          [mac, 'bootstrap_token', bootstrapTokenAad(mac), bootstrap],
          [legacy, 'unlock_token', unlockTokenAad(legacy), legacyUnlock],
        ] as const) {
          const sealed = await stored(t.dataSource, column, udid);
          assert.equal(sealed.subarray(1, 5).toString('hex'), secretsKeyId(keyB), `${column} of ${udid}`);
          assert.deepEqual(onlyB.open(sealed, aad), plain);
        }

        // A value under a key nobody configured is reported, left alone, and fails the run.
        const stray = new SecretBox(keyC).seal(randomBytes(16), unlockTokenAad(legacy));
        await t.dataSource.query('UPDATE devices SET unlock_token = ? WHERE id = ?', [stray, legacy]);
        const third = await reseal({ SECRETS_KEY: b64(keyB) });
        assert.equal(third.code, 2, third.out);
        assert.deepEqual(counts(third.out, 'devices.unlock_token'), {
          examined: 2,
          resealed: 0,
          current: 1,
          meanwhile: 0,
          failed: 1,
        });
        assert.match(third.out, new RegExp(`"keyId":"${secretsKeyId(keyC)}"`));
        assert.ok(!third.out.includes(b64(keyB)) && !third.out.includes(b64(keyC)), 'keys never reach the output');
        assert.deepEqual(await stored(t.dataSource, 'unlock_token', legacy), stray);
      });
    },
  );
});
