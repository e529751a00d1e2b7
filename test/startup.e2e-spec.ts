import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCa, issueIdentity } from '../src/device-identity/dev-ca.js';
import { runServer, serverEnv, statusOf } from './support/built-server.js';
import { createTestDatabase, directView } from './support/test-db.js';
import type { TestDatabase } from './support/test-db.js';

describe('starting and stopping the built server', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv =>
    serverEnv(db, { LOG_FORMAT: 'text', ...extra });

  /** Exit 78 with one line that names the variable, and no stack trace. */
  async function refusesToStart(extra: Record<string, string>, variable: string, why: RegExp): Promise<void> {
    const run = await runServer(env(extra));
    assert.equal(run.code, 78, run.lines.join('\n'));
    const errors = run.lines.filter((l) => / ERROR /.test(l));
    assert.equal(errors.length, 1, run.lines.join('\n'));
    assert.match(errors[0] ?? '', new RegExp(`Invalid configuration: ${variable} `));
    assert.match(errors[0] ?? '', why);
    assert.doesNotMatch(run.lines.join('\n'), /^\s+at /m);
  }

  it('a DEVICE_CA_FILE that does not exist: exit 78 naming it', () =>
    refusesToStart({ DEVICE_CA_FILE: join(db.dataDir, 'no-such-ca.pem') }, 'DEVICE_CA_FILE', /does not exist/));

  it('a DEVICE_CA_FILE that is not PEM: exit 78 naming it', () => {
    const path = join(db.dataDir, 'not-a-ca.pem');
    writeFileSync(path, 'this is not a certificate\n');
    return refusesToStart({ DEVICE_CA_FILE: path }, 'DEVICE_CA_FILE', /holds no PEM certificate/);
  });

  it('a MAID key that does not match its certificate: exit 78 naming the key', async () => {
    const ca = await createCa('Test MAID CA');
    const cert = await issueIdentity(ca, { commonName: 'maid', keyType: 'rsa' });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const keyPath = join(db.dataDir, 'maid-other.key.pem');
    const certPath = join(db.dataDir, 'maid.cert.pem');
    writeFileSync(keyPath, other.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(certPath, cert.certPem);
    await refusesToStart(
      {
        MAID_SERVER_UUID: '2F3C9A51-7E1D-4B8A-9C6E-5D4F3B2A1C0E',
        MAID_SIGNING_KEY_FILE: keyPath,
        MAID_SIGNING_CERT_FILE: certPath,
      },
      'MAID_SIGNING_KEY_FILE',
      /does not hold the private key of the certificate/,
    );
  });

  it('the placeholder admin key of the example manifests: exit 78', () =>
    refusesToStart({ ADMIN_API_KEY: 'CHANGE-ME-openssl-rand-base64-32' }, 'ADMIN_API_KEY', /placeholder/));

  it('a start-up failure is logged once, without a second copy from Nest', async () => {
    // Nothing listens on port 1; a SQLite path below a plain file cannot be created.
    const file = join(db.dataDir, 'a-file');
    writeFileSync(file, '');
    const url = db.driver === 'mysql' ? 'mysql://root@127.0.0.1:1/test' : `sqlite:${join(file, 'mdm.sqlite')}`;
    const run = await runServer(env({ DATABASE_URL: url }));
    assert.equal(run.code, 1, run.lines.join('\n'));
    const errors = run.lines.filter((l) => / ERROR /.test(l));
    assert.equal(errors.length, 1, run.lines.join('\n'));
    assert.match(errors[0] ?? '', /start-up failed/);
  });

  it('HOST binds one address; SIGTERM is logged as it shuts down', async () => {
    let onHost: number | string = 0;
    let elsewhere: number | string = 0;
    const run = await runServer(env({ HOST: '127.0.0.1' }), /check-in server listening/, async (line) => {
      assert.match(line, /address=127\.0\.0\.1/);
      const port = Number(/port=(\d+)/.exec(line)?.[1]);
      onHost = await statusOf('127.0.0.1', port, '/healthz');
      // Another loopback address of this machine: nothing listens there.
      elsewhere = await statusOf('127.0.0.2', port, '/healthz');
    });
    assert.equal(onHost, 200);
    assert.equal(elsewhere, 'ECONNREFUSED');
    // Nest re-raises the signal once the app has closed.
    assert.ok(run.code === 0 || run.signal === 'SIGTERM', run.lines.join('\n'));
    const text = run.lines.join('\n');
    assert.match(text, /INFO +shutting down: no new connections, finishing requests in flight signal=SIGTERM/);
    assert.match(text, /INFO +shut down signal=SIGTERM/);
  });

  it('two replicas starting together on an empty MySQL database: one migrates, the other waits, both serve', async (t) => {
    if (db.driver !== 'mysql') {
      t.skip('SQLite is one replica');
      return;
    }
    const fresh = await createTestDatabase();
    const view = await directView(fresh);
    // The test holds the servers' migration lock until both wait for it, so they really
    // migrate at the same time rather than one after the other by chance.
    const holder = view.createQueryRunner();
    try {
      await holder.connect();
      const held = (await holder.query("SELECT GET_LOCK('mdm_checkin_migrations', 60) AS got")) as {
        got: number | string;
      }[];
      assert.equal(Number(held[0]?.got), 1);
      const ready = (line: string): Promise<void> => {
        assert.match(line, /check-in server listening/);
        return Promise.resolve();
      };
      // Each replica has a DATA_DIR of its own, as pods do (the development key and CA live there).
      const runs = [0, 1].map((i) =>
        runServer(
          serverEnv(fresh, { LOG_FORMAT: 'text', DATA_DIR: mkdtempSync(join(fresh.dataDir, `replica-${i}-`)) }),
          /check-in server listening/,
          ready,
        ),
      );
      const database = new URL(fresh.url).pathname.slice(1);
      let waiting = 0;
      for (let i = 0; i < 600 && waiting < 2; i++) {
        const rows = await view.query<{ n: number | string }[]>(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE '%GET_LOCK%' AND ID <> CONNECTION_ID()",
          [database],
        );
        waiting = Number(rows[0]?.n);
        if (waiting < 2) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(waiting, 2, 'both replicas wait for the migration lock');
      await holder.query("SELECT RELEASE_LOCK('mdm_checkin_migrations')");
      const both = await Promise.all(runs);
      for (const run of both) {
        const text = run.lines.join('\n');
        assert.ok(run.code === 0 || run.signal === 'SIGTERM', text);
        assert.match(text, /check-in server listening/);
        assert.doesNotMatch(text, /start-up failed/);
      }
      const rows = await view.query<{ name: string; n: number | string }[]>(
        'SELECT name, COUNT(*) AS n FROM migrations GROUP BY name',
      );
      assert.ok(rows.length > 0);
      for (const r of rows) assert.equal(Number(r.n), 1, r.name);
      // One applied every migration, the other found nothing left to do.
      const applied = both.map((run) => {
        const list = /database ready .*migrationsApplied=(\[[^\]]*\])/.exec(run.lines.join('\n'))?.[1];
        assert.ok(list !== undefined, run.lines.join('\n'));
        return (JSON.parse(list) as string[]).length;
      });
      assert.deepEqual(
        applied.sort((a, b) => a - b),
        [0, rows.length],
      );
    } finally {
      await holder.release();
      await view.destroy();
      await fresh.drop();
    }
  });
});
