// Several replicas on one database, as the Kubernetes Deployment runs them: two built servers
// (dist/main.js) on one MariaDB/MySQL database, driven at once with TokenUpdates for the same
// enrollments through both. (Two replicas migrating at once: startup.e2e-spec.ts.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCa } from '../src/device-identity/dev-ca.js';
import { DIST_MAIN, serverEnv } from './support/built-server.js';
import { DeviceSigner, newUdid, parseReply, registerSigner, send, xmlMessage } from './support/device.js';
import { createTestDatabase, directView, testDriver } from './support/test-db.js';
import type { TestDatabase } from './support/test-db.js';

/** A built server process; every line it prints is kept (and read, so it never blocks on a full pipe). */
interface Replica {
  readonly url: string;
  readonly lines: string[];
  readonly child: ChildProcess;
}

function startReplica(env: NodeJS.ProcessEnv): Promise<Replica> {
  const child = spawn(process.execPath, [DIST_MAIN], { env });
  const lines: string[] = [];
  let partial = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (c: Buffer) => lines.push(c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      const parts = (partial + c.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (line.includes('check-in server listening')) {
          resolve({ url: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`, lines, child });
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`replica exited with ${code}: ${lines.join('\n')}`)));
  });
}

async function stop(r: Replica): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  const exited = new Promise((resolve) => r.child.once('exit', resolve));
  r.child.kill('SIGTERM');
  await exited;
}

describe(
  'two replicas on one database',
  { skip: testDriver() !== 'mysql' && 'replicas share a MySQL/MariaDB database' },
  () => {
    let db: TestDatabase;
    let replicas: Replica[] = [];

    before(async () => {
      db = await createTestDatabase();
      // What the replicas of a Deployment share: the database, the device CA and the secrets key
      // (each has a data folder of its own).
      const ca = await createCa('Replicas test device CA');
      const caFile = join(db.dataDir, 'device-ca.pem');
      writeFileSync(caFile, ca.certPem);
      const secretsKey = randomBytes(32).toString('base64');
      // One after the other: the first applies the migrations (their concurrency has its own test).
      for (const i of [0, 1]) {
        replicas.push(
          await startReplica(
            serverEnv(db, {
              DATA_DIR: mkdtempSync(join(db.dataDir, `replica-${i}-`)),
              DEVICE_CA_FILE: caFile,
              SECRETS_KEY: secretsKey,
            }),
          ),
        );
      }
      // Devices keep their identity whichever replica they reach.
      const signer = new DeviceSigner(ca, 'signature');
      for (const r of replicas) registerSigner(r.url, signer);
    });

    after(async () => {
      for (const r of replicas) registerSigner(r.url, undefined);
      await Promise.all(replicas.map(stop));
      replicas = [];
      await db.drop();
    });

    it('concurrent TokenUpdates for the same enrollments through both: no count lost, no duplicate row, no 5xx', async () => {
      const [a, b] = replicas;
      assert.ok(a && b);
      const devices = Array.from({ length: 6 }, () => newUdid());
      // Each device enrolls through one replica, alternately.
      for (const [i, udid] of devices.entries()) {
        const r = await send((i % 2 === 0 ? a : b).url, xmlMessage('ipad-authenticate.plist', { UDID: udid }));
        assert.equal(r.status, 200, r.text);
      }

      // Then every device sends 12 TokenUpdates, all at once, alternating between the replicas,
      // each with its own PushMagic and a new UnlockToken on some (secrets sealed by either).
      const perDevice = 12;
      const sent = devices.flatMap((udid) =>
        Array.from({ length: perDevice }, (_, i) => ({
          udid,
          via: i % 2 === 0 ? a : b,
          body: xmlMessage('ipad-token-update.plist', {
            UDID: udid,
            PushMagic: `MAGIC-${udid}-${i}`,
            UnlockToken: i % 3 === 0 ? randomBytes(64) : undefined,
          }),
        })),
      );
      const replies = await Promise.all(sent.map((m) => send(m.via.url, m.body)));
      const statuses = replies.map((r) => r.status);
      assert.deepEqual(
        statuses.filter((s) => s >= 500),
        [],
        'no 5xx',
      );
      assert.deepEqual(
        statuses,
        statuses.map(() => 200),
        replies.map((r) => r.text).join('\n'),
      );
      // Both replicas served a share of them. A replica logs a check-in after answering it, and
      // its output crosses a pipe: the last lines may arrive a moment after the last answer.
      const servedBy = (r: (typeof replicas)[number]): number =>
        r.lines.filter((l) => l.includes('"messageType":"TokenUpdate"') && l.includes('"status":200')).length;
      for (let waited = 0; waited < 5000 && replicas.some((r) => servedBy(r) < (devices.length * perDevice) / 2);) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        waited += 50;
      }
      for (const r of replicas) assert.equal(servedBy(r), (devices.length * perDevice) / 2, r.url);

      const view = await directView(db);
      try {
        const enrollments = await view.query<{ id: string; n: number | string; count: number | string }[]>(
          'SELECT id, COUNT(*) AS n, MAX(token_update_count) AS count FROM enrollments GROUP BY id',
        );
        assert.deepEqual(enrollments.map((e) => e.id).sort(), [...devices].sort(), 'one enrollment per device');
        for (const e of enrollments) {
          assert.equal(Number(e.n), 1, `${e.id}: one row`);
          // Every accepted TokenUpdate counted, whichever replica took it.
          assert.equal(Number(e.count), perDevice, `${e.id}: tokenUpdateCount`);
        }
        const rows = await view.query<{ n: number | string }[]>('SELECT COUNT(*) AS n FROM devices');
        assert.equal(Number(rows[0]?.n), devices.length, 'one device row per device');
      } finally {
        await view.destroy();
      }
    });

    it('a secret one replica seals, the other opens (they share SECRETS_KEY)', async () => {
      const [a, b] = replicas;
      assert.ok(a && b);
      const udid = newUdid();
      const token = randomBytes(48);
      assert.equal((await send(a.url, xmlMessage('mac-authenticate.plist', { UDID: udid }))).status, 200);
      assert.equal((await send(b.url, xmlMessage('mac-token-update.plist', { UDID: udid }))).status, 200);
      const set = await send(a.url, xmlMessage('mac-set-bootstrap-token.plist', { UDID: udid, BootstrapToken: token }));
      assert.equal(set.status, 200, set.text);
      const got = await send(b.url, xmlMessage('mac-get-bootstrap-token.plist', { UDID: udid }));
      assert.equal(got.status, 200, got.text);
      assert.deepEqual(Buffer.from(parseReply(got).BootstrapToken as Uint8Array), token);
    });
  },
);
