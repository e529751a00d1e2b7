import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { build } from 'plist';
import { fixtureDict, newUdid, send, xmlMessage } from './support/device.js';
import type { SendOptions } from './support/device.js';
import { realBomb, sharedObjectBomb } from './support/hostile-bodies.js';
import { snapshot } from './support/snapshot.js';
import { startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';

// Issue 9 §1: bodies built to crash (memory) or freeze (CPU) the decoder. Each is refused
// with a clear 4xx, changes nothing, and the process keeps serving.

/** 144 KB: 99,000 references to one 45 KB string (4.5 GB if copied per reference). */
const sharedStringBomb = (udid: string): Buffer =>
  sharedObjectBomb({ identity: { MessageType: 'TokenUpdate', UDID: udid } });

/** About 1 MB of digits and a stray character: minutes of a backtracking regex. */
const digitsBomb = (udid: string): Buffer => realBomb(1_000_000, { MessageType: 'TokenUpdate', UDID: udid });

/** The bodies of the issue, each claiming `udid` in its first bytes. */
function bombs(udid: string): [string, Buffer][] {
  return [
    ['99,000 references to one 45 KB string', sharedStringBomb(udid)],
    ['<real> with a million digits and a stray character', digitsBomb(udid)],
  ];
}

async function healthy(t: TestApp): Promise<void> {
  const res = await fetch(`${t.url}/healthz`);
  assert.equal(res.status, 200);
}

/** Sends `body`, expects `status` and `reason`, no row changed, and a process that still answers. */
async function refused(t: TestApp, body: Buffer, opts: SendOptions, status: number, reason: RegExp): Promise<void> {
  const before = await snapshot(t.dataSource);
  const r = await send(t.url, body, opts);
  assert.equal(r.status, status, r.text);
  assert.notEqual(r.status, 401);
  assert.match(r.text, reason);
  assert.deepEqual(await snapshot(t.dataSource), before);
  await healthy(t);
}

/** The last `checkin` log line. */
function lastCheckinLine(t: TestApp): Record<string, unknown> {
  const line = t.logs.entries().findLast((l) => l.msg === 'checkin');
  assert.ok(line);
  return line;
}

describe('hostile bodies, Mdm-Signature required', () => {
  let t: TestApp;
  let udid: string;
  before(async () => {
    t = await startTestApp();
    udid = newUdid();
    for (const name of ['ipad-authenticate.plist', 'ipad-token-update.plist']) {
      assert.equal((await send(t.url, xmlMessage(name, { UDID: udid }))).status, 200);
    }
  });
  after(async () => {
    await t.close();
  });

  const failures: [string, SendOptions, RegExp][] = [
    ['without Mdm-Signature', { sign: false }, /Mdm-Signature header is missing/],
    ['with a garbage Mdm-Signature', { sign: false, headers: { 'mdm-signature': 'bm90IGNtcw==' } }, /CMS/],
  ];
  for (const [name, opts, reason] of failures) {
    it(`${name}: 400 before decoding; the log names the claim, read by a bounded peek`, async () => {
      for (const [bomb, body] of bombs(udid)) {
        await refused(t, body, opts, 400, reason);
        const line = lastCheckinLine(t);
        assert.equal(line.status, 400, bomb);
        assert.equal(line.claimedEnrollmentId, udid, bomb);
      }
    });
  }

  it('with the device’s own valid signature: decoded within its bounds and refused as invalid', async () => {
    const identity = await t.signer!.identityFor(udid);
    // Decoded once per object (the 45 KB string once), then refused: a TokenUpdate needs a Token.
    await refused(t, sharedStringBomb(udid), { identity }, 400, /Token must be <data>/);
    await refused(t, digitsBomb(udid), { identity }, 400, /<real> .* is not a number/);
  });

  it('a claim placed after the peek’s reach is not read (the rest of the body is never looked at)', async () => {
    // The plist package writes keys in the order given: Padding comes before UDID.
    const body = Buffer.from(
      build({ Padding: 'x'.repeat(8192), ...fixtureDict('ipad-token-update.plist', { UDID: udid }) }),
    );
    assert.ok(body.indexOf('<key>UDID</key>') > 8192);
    await refused(t, body, { sign: false }, 400, /Mdm-Signature header is missing/);
    assert.equal(lastCheckinLine(t).claimedEnrollmentId, undefined);
  });
});

describe('hostile bodies, DEVICE_AUTH=none (every body is decoded)', () => {
  let t: TestApp;
  let udid: string;
  before(async () => {
    t = await startTestApp({ DEVICE_AUTH: 'none' });
    udid = newUdid();
    for (const name of ['ipad-authenticate.plist', 'ipad-token-update.plist']) {
      assert.equal((await send(t.url, xmlMessage(name, { UDID: udid }))).status, 200);
    }
  });
  after(async () => {
    await t.close();
  });

  it('the 144 KB shared-string bplist decodes within its bounds and is refused as an invalid TokenUpdate', async () => {
    await refused(t, sharedStringBomb(udid), {}, 400, /Token must be <data>/);
  });

  it('the same string shared from the top-level array: 400, not a dictionary', () =>
    refused(t, sharedObjectBomb(), {}, 400, /must be a dictionary/));

  it('shared data (a copy per reference) past the size bound: 400 before it is copied', () =>
    refused(
      t,
      sharedObjectBomb({ kind: 'data', identity: { MessageType: 'TokenUpdate', UDID: udid } }),
      {},
      400,
      /not a valid plist: .*too large for the body size/,
    ));

  it('the <real> bomb: 400, not a number', () => refused(t, digitsBomb(udid), {}, 400, /<real> .* is not a number/));

  it('several bombs at once, with /healthz asked alongside: every request answered', async () => {
    const before = await snapshot(t.dataSource);
    const replies = await Promise.all([
      ...bombs(udid).map(([, body]) => send(t.url, body)),
      ...bombs(udid).map(([, body]) => send(t.url, body)),
      fetch(`${t.url}/healthz`),
    ]);
    assert.deepEqual(
      replies.map((r) => r.status),
      [400, 400, 400, 400, 200],
    );
    assert.deepEqual(await snapshot(t.dataSource), before);
  });

  it('the device itself is still served normally afterwards', async () => {
    const r = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }));
    assert.equal(r.status, 200, r.text);
  });

  it('a request to /mdm that is not a check-in is answered 501 and logged', async () => {
    const before = await snapshot(t.dataSource);
    const r = await send(t.url, Buffer.from('<plist/>'), {
      path: '/mdm',
      headers: { 'content-type': 'application/x-apple-aspen-mdm', 'x-request-id': 'poll-1' },
    });
    assert.equal(r.status, 501);
    assert.deepEqual(await snapshot(t.dataSource), before);
    const line = t.logs.entries().findLast((l) => l.msg === 'mdm');
    assert.ok(line, 'an mdm log line');
    assert.equal(line.level, 'warn');
    assert.equal(line.requestId, 'poll-1');
    assert.equal(line.method, 'PUT');
    assert.equal(line.status, 501);
    assert.equal(line.contentType, 'application/x-apple-aspen-mdm');
  });
});

describe('text-format logs of refused bodies cannot be forged', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ LOG_FORMAT: 'text' });
  });
  after(async () => {
    await t.close();
  });

  it('a claimed UDID carrying a line break stays on its own line, escaped', async () => {
    const forged = 'X\n2026-01-01T00:00:00.000Z INFO  checkin status=200 enrollmentId=VICTIM';
    const before = await snapshot(t.dataSource);
    const r = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: forged }), { sign: false });
    assert.equal(r.status, 400);
    assert.deepEqual(await snapshot(t.dataSource), before);
    const lines = t.logs.lines.filter((l) => l.includes(' checkin '));
    const line = lines.at(-1)!;
    assert.equal(line.indexOf('\n'), line.length - 1, 'one line');
    assert.ok(line.includes(`claimedEnrollmentId=${JSON.stringify(forged)}`), line);
    assert.ok(t.logs.lines.every((l) => !l.startsWith('2026-01-01T00:00:00.000Z')));
  });
});
