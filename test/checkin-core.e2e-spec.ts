import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SecretBox } from '../src/common/secret-box.js';
import { bootstrapTokenAad, unlockTokenAad } from '../src/enrollments/enrollments.service.js';
import { binaryMessage, fixtureBytes, fixtureDict, newUdid, parseReply, send, xmlMessage } from './support/device.js';
import { snapshot } from './support/snapshot.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';

const IPAD = '00008103-0012345A3E88801E';
const MAC = '564D2E7A-3B1F-5C9E-8A46-D2F1B7E0C3A9';
const IPHONE = '00008110-001C4D2A0E31801E';
const BYOD = '7D6C1F0A2B9E4D3C8A5F1E0B9C2D7A64';

async function api(t: TestApp, path: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function device(t: TestApp, udid: string): Promise<Record<string, unknown>> {
  const r = await api(t, `/api/v1/devices/${encodeURIComponent(udid)}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

async function enrollment(t: TestApp, id: string): Promise<Record<string, unknown>> {
  const r = await api(t, `/api/v1/enrollments/${encodeURIComponent(id)}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

async function storedSecret(
  t: TestApp,
  column: 'unlock_token' | 'bootstrap_token',
  udid: string,
): Promise<Buffer | null> {
  const rows = await t.dataSource.query<{ v: Buffer | null }[]>(`SELECT ${column} AS v FROM devices WHERE id = ?`, [
    udid,
  ]);
  const v = rows[0]?.v ?? null;
  return v === null ? null : Buffer.from(v);
}

function box(t: TestApp): SecretBox {
  return t.app.get(SecretBox);
}

/** Enrolls a fresh device through Authenticate and TokenUpdate; returns its UDID. */
async function enroll(t: TestApp, overrides: Record<string, unknown> = {}): Promise<string> {
  const udid = newUdid();
  assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }))).status, 200);
  const r = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid, ...overrides }));
  assert.equal(r.status, 200, r.text);
  return udid;
}

describe('check-in core, end to end', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('an iPad enrolls: Authenticate creates the device, TokenUpdate with UnlockToken enables it', async () => {
    const auth = await send(t.url, fixtureBytes('ipad-authenticate.plist'));
    assert.equal(auth.status, 200);
    assert.equal(auth.body.length, 0);

    const before = await device(t, IPAD);
    assert.equal(before.serialNumber, 'F9FXK2Q1JN');
    assert.equal(before.productName, 'iPad13,18');
    assert.equal(before.osVersion, '18.5');
    assert.equal(before.buildVersion, '22F76');
    assert.deepEqual(before.enrollments, []);
    assert.equal(before.hasUnlockToken, false);

    const tu = await send(t.url, fixtureBytes('ipad-token-update.plist'));
    assert.equal(tu.status, 200, tu.text);
    assert.equal(tu.body.length, 0);

    const fixture = fixtureDict('ipad-token-update.plist');
    const e = await enrollment(t, IPAD);
    assert.equal(e.id, IPAD);
    assert.equal(e.type, 'Device');
    assert.equal(e.deviceId, IPAD);
    assert.equal(e.parentId, null);
    assert.equal(e.enabled, true);
    assert.equal(e.tokenUpdateCount, 1);
    assert.equal(e.awaitingConfiguration, false);
    assert.equal(e.hasUnlockToken, true);
    assert.equal(e.pushMagic, fixture.PushMagic);
    assert.equal(e.token, Buffer.from(fixture.Token as Uint8Array).toString('hex'));
    assert.equal(e.topic, fixture.Topic);

    // The UnlockToken is sealed at rest: not stored in the clear, opens to the exact bytes.
    const sealed = await storedSecret(t, 'unlock_token', IPAD);
    assert.ok(sealed !== null);
    const plain = Buffer.from(fixture.UnlockToken as Uint8Array);
    assert.equal(sealed.includes(plain.subarray(0, 16)), false);
    assert.deepEqual(box(t).open(sealed, unlockTokenAad(IPAD)), plain);
    // ... and never appears in a log line or an API answer.
    assert.equal(t.logs.text().includes(plain.toString('base64').slice(0, 24)), false);
    assert.equal(JSON.stringify(await device(t, IPAD)).includes(plain.toString('hex').slice(0, 24)), false);
  });

  it('a TokenUpdate with a new PushMagic and token and no UnlockToken keeps the stored UnlockToken', async () => {
    const sealedBefore = await storedSecret(t, 'unlock_token', IPAD);
    const newToken = Buffer.alloc(48, 0xab); // push tokens may change size
    const r = await send(
      t.url,
      xmlMessage('ipad-token-update.plist', { UnlockToken: undefined, PushMagic: 'NEW-MAGIC-1', Token: newToken }),
    );
    assert.equal(r.status, 200, r.text);
    const e = await enrollment(t, IPAD);
    assert.equal(e.pushMagic, 'NEW-MAGIC-1');
    assert.equal(e.token, newToken.toString('hex'));
    assert.equal(e.tokenUpdateCount, 2);
    assert.equal(e.hasUnlockToken, true);
    assert.deepEqual(await storedSecret(t, 'unlock_token', IPAD), sealedBefore);
  });

  it('a Mac without UnlockToken, waiting in Setup Assistant, records AwaitingConfiguration', async () => {
    assert.equal((await send(t.url, fixtureBytes('mac-authenticate.plist'))).status, 200);
    assert.equal((await send(t.url, fixtureBytes('mac-token-update.plist'))).status, 200);
    const d = await device(t, MAC);
    assert.equal(d.deviceName, 'Robin’s MacBook Pro');
    assert.equal(d.model, 'Mac14,9');
    assert.equal(d.modelName, 'MacBook Pro');
    assert.equal(d.hasUnlockToken, false);
    const e = await enrollment(t, MAC);
    assert.equal(e.awaitingConfiguration, true);
    assert.equal(e.hasUnlockToken, false);
    assert.equal(e.enabled, true);

    // Once configured, the next TokenUpdate says so.
    await send(t.url, xmlMessage('mac-token-update.plist', { AwaitingConfiguration: false }));
    assert.equal((await enrollment(t, MAC)).awaitingConfiguration, false);
  });

  it('binary plists are accepted exactly as an iPhone sends them', async () => {
    assert.equal((await send(t.url, fixtureBytes('iphone-authenticate.bplist'))).status, 200);
    const r = await send(t.url, fixtureBytes('iphone-token-update.bplist'));
    assert.equal(r.status, 200, r.text);
    const e = await enrollment(t, IPHONE);
    assert.equal(e.enabled, true);
    assert.equal(e.awaitingConfiguration, true);
    assert.equal(e.hasUnlockToken, true);
    assert.equal(e.token, '9c1f0e7d3b5a2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6');
    assert.equal((await device(t, IPHONE)).serialNumber, 'HX7QK2P9M4');
  });

  it('a User Enrollment device is keyed by its EnrollmentID', async () => {
    assert.equal((await send(t.url, fixtureBytes('user-enrollment-authenticate.plist'))).status, 200);
    assert.equal((await send(t.url, binaryMessage('user-enrollment-token-update.plist'))).status, 200);
    const e = await enrollment(t, BYOD);
    assert.equal(e.type, 'User Enrollment (Device)');
    assert.equal(e.deviceId, BYOD);
    assert.equal(e.parentId, null);
    assert.equal(e.enabled, true);
    const d = await device(t, BYOD);
    assert.equal(d.udid, BYOD);
    assert.equal(d.serialNumber, null);
    assert.equal((d.enrollments as unknown[]).length, 1);
  });

  it('SetBootstrapToken escrows the token sealed; GetBootstrapToken returns it; an empty one clears it', async () => {
    const set = await send(t.url, fixtureBytes('mac-set-bootstrap-token.plist'));
    assert.equal(set.status, 200, set.text);
    const expected = Buffer.from(fixtureDict('mac-set-bootstrap-token.plist').BootstrapToken as Uint8Array);
    const sealed = await storedSecret(t, 'bootstrap_token', MAC);
    assert.ok(sealed !== null);
    assert.equal(sealed.includes(expected), false);
    assert.deepEqual(box(t).open(sealed, bootstrapTokenAad(MAC)), expected);
    assert.equal((await device(t, MAC)).hasBootstrapToken, true);

    const get = await send(t.url, fixtureBytes('mac-get-bootstrap-token.plist'));
    assert.equal(get.status, 200);
    assert.match(get.headers.get('content-type') ?? '', /xml/);
    assert.deepEqual(Buffer.from(parseReply(get).BootstrapToken as Uint8Array), expected);

    assert.equal(
      (await send(t.url, xmlMessage('mac-set-bootstrap-token.plist', { BootstrapToken: Buffer.alloc(0) }))).status,
      200,
    );
    assert.equal(await storedSecret(t, 'bootstrap_token', MAC), null);
    assert.deepEqual(parseReply(await send(t.url, fixtureBytes('mac-get-bootstrap-token.plist'))), {});

    await send(t.url, fixtureBytes('mac-set-bootstrap-token.plist'));
    assert.equal(
      (await send(t.url, xmlMessage('mac-set-bootstrap-token.plist', { BootstrapToken: undefined }))).status,
      200,
    );
    assert.equal((await device(t, MAC)).hasBootstrapToken, false);
  });

  it('bootstrap tokens need an enabled device-channel enrollment', async () => {
    const authenticatedOnly = newUdid();
    await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: authenticatedOnly }));
    const cases: [string, Buffer][] = [
      ['unknown device', xmlMessage('mac-get-bootstrap-token.plist', { UDID: newUdid() })],
      ['no TokenUpdate yet', xmlMessage('mac-set-bootstrap-token.plist', { UDID: authenticatedOnly })],
      ['User Enrollment', xmlMessage('mac-get-bootstrap-token.plist', { UDID: undefined, EnrollmentID: BYOD })],
    ];
    for (const [name, body] of cases) {
      const before = await snapshot(t.dataSource);
      const r = await send(t.url, body);
      assert.equal(r.status, 400, `${name}: ${r.text}`);
      assert.deepEqual(await snapshot(t.dataSource), before, name);
    }
  });

  it('re-enrollment (identity renewal) keeps UnlockToken and bootstrap token and disables until the next TokenUpdate', async () => {
    const udid = await enroll(t);
    await send(t.url, xmlMessage('mac-set-bootstrap-token.plist', { UDID: udid }));
    let d = await device(t, udid);
    assert.equal(d.hasUnlockToken, true);
    assert.equal(d.hasBootstrapToken, true);
    assert.equal(d.unlockTokenPredatesLastAuthenticate, false);
    assert.equal(d.bootstrapTokenPredatesLastAuthenticate, false);
    const unlockBefore = await storedSecret(t, 'unlock_token', udid);
    const bootstrapBefore = await storedSecret(t, 'bootstrap_token', udid);
    const unlockAt = d.unlockTokenAt;
    const bootstrapAt = d.bootstrapTokenAt;

    // The same device installs the profile again. Facts it does not send are kept.
    const r = await send(
      t.url,
      xmlMessage('ipad-authenticate.plist', { UDID: udid, OSVersion: '18.6', SerialNumber: undefined }),
    );
    assert.equal(r.status, 200);
    d = await device(t, udid);
    assert.equal(d.osVersion, '18.6');
    assert.equal(d.serialNumber, 'F9FXK2Q1JN');
    // The escrowed secrets survive, byte for byte, and say they predate this Authenticate.
    assert.equal(d.hasUnlockToken, true);
    assert.equal(d.hasBootstrapToken, true);
    assert.deepEqual(await storedSecret(t, 'unlock_token', udid), unlockBefore);
    assert.deepEqual(await storedSecret(t, 'bootstrap_token', udid), bootstrapBefore);
    assert.equal(d.unlockTokenAt, unlockAt);
    assert.equal(d.bootstrapTokenAt, bootstrapAt);
    assert.equal(d.unlockTokenPredatesLastAuthenticate, true);
    assert.equal(d.bootstrapTokenPredatesLastAuthenticate, true);
    let e = await enrollment(t, udid);
    assert.equal(e.enabled, false);
    assert.equal(e.tokenUpdateCount, 0);

    // Disabled: no bootstrap token service until TokenUpdate.
    assert.equal((await send(t.url, xmlMessage('mac-get-bootstrap-token.plist', { UDID: udid }))).status, 400);

    // Renewal's TokenUpdate carries no UnlockToken: the escrowed one stays.
    assert.equal(
      (await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid, UnlockToken: undefined }))).status,
      200,
    );
    e = await enrollment(t, udid);
    assert.equal(e.enabled, true);
    assert.equal(e.tokenUpdateCount, 1, 'the first TokenUpdate after re-enrollment counts as the first');
    assert.equal(e.hasUnlockToken, true);
    assert.deepEqual(await storedSecret(t, 'unlock_token', udid), unlockBefore);
    const get = await send(t.url, xmlMessage('mac-get-bootstrap-token.plist', { UDID: udid }));
    assert.equal(get.status, 200);
    assert.deepEqual(
      Buffer.from(parseReply(get).BootstrapToken as Uint8Array),
      Buffer.from(fixtureDict('mac-set-bootstrap-token.plist').BootstrapToken as Uint8Array),
    );

    // A newer secret replaces the older one when the device sends it.
    const newUnlock = Buffer.from('a newer unlock token');
    assert.equal(
      (await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid, UnlockToken: newUnlock }))).status,
      200,
    );
    const newBootstrap = Buffer.from('a newer bootstrap token');
    assert.equal(
      (await send(t.url, xmlMessage('mac-set-bootstrap-token.plist', { UDID: udid, BootstrapToken: newBootstrap })))
        .status,
      200,
    );
    d = await device(t, udid);
    assert.equal(d.unlockTokenPredatesLastAuthenticate, false);
    assert.equal(d.bootstrapTokenPredatesLastAuthenticate, false);
    assert.ok(String(d.unlockTokenAt) > String(unlockAt));
    assert.ok(String(d.bootstrapTokenAt) > String(bootstrapAt));
    const unlockNow = await storedSecret(t, 'unlock_token', udid);
    assert.ok(unlockNow);
    assert.deepEqual(box(t).open(unlockNow, unlockTokenAad(udid)), newUnlock);
    const bootstrapNow = await storedSecret(t, 'bootstrap_token', udid);
    assert.ok(bootstrapNow);
    assert.deepEqual(box(t).open(bootstrapNow, bootstrapTokenAad(udid)), newBootstrap);

    // An explicit empty SetBootstrapToken still clears.
    assert.equal(
      (await send(t.url, xmlMessage('mac-set-bootstrap-token.plist', { UDID: udid, BootstrapToken: Buffer.alloc(0) })))
        .status,
      200,
    );
    d = await device(t, udid);
    assert.equal(d.hasBootstrapToken, false);
    assert.equal(d.bootstrapTokenAt, null);
    assert.equal(d.bootstrapTokenPredatesLastAuthenticate, null);
  });

  it('CheckOut disables the enrollment and keeps the records', async () => {
    const udid = await enroll(t);
    const r = await send(t.url, xmlMessage('checkout.plist', { UDID: udid }));
    assert.equal(r.status, 200);
    const e = await enrollment(t, udid);
    assert.equal(e.enabled, false);
    assert.equal(e.tokenUpdateCount, 1);
    assert.ok(e.pushMagic);
    assert.equal((await device(t, udid)).hasUnlockToken, true);

    const unknown = await send(t.url, xmlMessage('checkout.plist', { UDID: newUdid() }));
    assert.equal(unknown.status, 400);
  });

  it('concurrent TokenUpdates for one enrollment lose no count', async () => {
    const udid = await enroll(t);
    const n = 24;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        send(
          t.url,
          xmlMessage('ipad-token-update.plist', { UDID: udid, PushMagic: `MAGIC-${i}`, UnlockToken: undefined }),
        ),
      ),
    );
    assert.deepEqual(
      replies.map((r) => r.status),
      replies.map(() => 200),
    );
    assert.equal((await enrollment(t, udid)).tokenUpdateCount, n + 1);
  });

  it('accepts POST /checkin and PUT /mdm with the check-in content type', async () => {
    const udid = newUdid();
    assert.equal(
      (await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }), { method: 'POST' })).status,
      200,
    );
    const viaMdm = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }), { path: '/mdm' });
    assert.equal(viaMdm.status, 200, viaMdm.text);
    assert.equal((await enrollment(t, udid)).enabled, true);
  });

  it('answers 501 on /mdm for anything but a check-in, and writes nothing', async () => {
    const before = await snapshot(t.dataSource);
    const r = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: newUdid() }), {
      path: '/mdm',
      headers: { 'content-type': 'application/x-apple-aspen-mdm' },
    });
    assert.equal(r.status, 501);
    assert.match(r.text, /not available yet/);
    assert.deepEqual(await snapshot(t.dataSource), before);
  });

  it('logs one structured line per check-in with the enrollment and message type', async () => {
    const udid = await enroll(t);
    const line = t.logs
      .entries()
      .find((l) => l.msg === 'checkin' && l.enrollmentId === udid && l.messageType === 'TokenUpdate');
    assert.ok(line, 'a checkin log line for the TokenUpdate');
    assert.equal(line.status, 200);
    assert.equal(line.tokenUpdateCount, 1);
    assert.equal(typeof line.requestId, 'string');
  });
});

describe('PUSH_TOPICS allow-list', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ PUSH_TOPICS: 'com.apple.mgmt.External.only-this-one' });
  });
  after(async () => {
    await t.close();
  });

  it('refuses a topic outside the list with 400 and writes nothing', async () => {
    const before = await snapshot(t.dataSource);
    const r = await send(t.url, fixtureBytes('ipad-authenticate.plist'));
    assert.equal(r.status, 400);
    assert.match(r.text, /not a push topic of this server/);
    assert.deepEqual(await snapshot(t.dataSource), before);
  });

  it('accepts the listed topic', async () => {
    const udid = newUdid();
    const topic = 'com.apple.mgmt.External.only-this-one';
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid, Topic: topic }))).status, 200);
    assert.equal((await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid, Topic: topic }))).status, 200);
    const before = await snapshot(t.dataSource);
    const other = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }));
    assert.equal(other.status, 400);
    assert.deepEqual(await snapshot(t.dataSource), before);
  });
});
