import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildBinary } from 'plist';
import { fixtureDict, newUdid, send, xmlMessage } from './support/device.js';
import type { Reply } from './support/device.js';
import { snapshot } from './support/snapshot.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';
import { testDriver } from './support/test-db.js';

const MAC_USER_GUID = '8D2B6C1E-0F3A-4E59-B7C4-1A2B3C4D5E6F';

/**
 * Protocol details that refused or lost real traffic (issue 9, §5), on the real app and
 * database: each refusal shows its status and that no row changed.
 */
describe('protocol details', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  async function api(path: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(res.status, 200, path);
    return (await res.json()) as Record<string, unknown>;
  }

  async function enrolledMac(): Promise<string> {
    const udid = newUdid();
    assert.equal((await send(t.url, xmlMessage('mac-authenticate.plist', { UDID: udid }))).status, 200);
    const r = await send(t.url, xmlMessage('mac-token-update.plist', { UDID: udid, AwaitingConfiguration: false }));
    assert.equal(r.status, 200, r.text);
    return udid;
  }

  async function refused(body: Buffer, status: number, reason: RegExp, identityOf?: string): Promise<Reply> {
    const before = await snapshot(t.dataSource);
    const identity = identityOf === undefined ? undefined : await t.signer?.identityFor(identityOf);
    const r = await send(t.url, body, identity === undefined ? {} : { identity });
    assert.equal(r.status, status, r.text);
    assert.match(r.text, reason);
    assert.deepEqual(await snapshot(t.dataSource), before);
    return r;
  }

  it('UDID with EnrollmentID is the UDID device enrollment, logged as a warning', async () => {
    const udid = newUdid();
    const enrollmentId = '7D6C1F0A2B9E4D3C8A5F1E0B9C2D7A64';
    const auth = await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid, EnrollmentID: enrollmentId }));
    assert.equal(auth.status, 200, auth.text);
    const tu = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid, EnrollmentID: enrollmentId }));
    assert.equal(tu.status, 200, tu.text);
    const e = await api(`/api/v1/enrollments/${udid}`);
    assert.equal(e.type, 'Device');
    assert.equal(e.enabled, true);
    const missing = await fetch(`${t.url}/api/v1/enrollments/${enrollmentId}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(missing.status, 404);
    const line = t.logs
      .entries()
      .find((l) => l.msg === 'checkin' && l.enrollmentId === udid && l.messageType === 'TokenUpdate');
    assert.equal(line?.level, 'warn');
    assert.equal(line?.ignoredEnrollmentId, enrollmentId);
    assert.match(String(line?.warning), /both UDID and EnrollmentID/);
  });

  it('AwaitingConfiguration sent with SetBootstrapToken and GetBootstrapToken is recorded', async () => {
    const udid = await enrolledMac();
    const awaiting = async (): Promise<unknown> => (await api(`/api/v1/enrollments/${udid}`)).awaitingConfiguration;
    assert.equal(await awaiting(), false);
    const set = await send(
      t.url,
      xmlMessage('mac-set-bootstrap-token.plist', { UDID: udid, AwaitingConfiguration: true }),
    );
    assert.equal(set.status, 200, set.text);
    assert.equal(await awaiting(), true);
    const get = await send(
      t.url,
      xmlMessage('mac-get-bootstrap-token.plist', { UDID: udid, AwaitingConfiguration: undefined }),
    );
    assert.equal(get.status, 200, get.text);
    assert.equal(await awaiting(), false);
    const again = await send(
      t.url,
      xmlMessage('mac-get-bootstrap-token.plist', { UDID: udid, AwaitingConfiguration: true }),
    );
    assert.equal(again.status, 200, again.text);
    assert.equal(await awaiting(), true);
  });

  it('CheckOut checks its Topic like the other messages', async () => {
    const udid = await enrolledMac();
    await refused(xmlMessage('checkout.plist', { UDID: udid, Topic: 'com.example.not-mdm' }), 400, /Topic must start/);
    await refused(xmlMessage('checkout.plist', { UDID: udid, Topic: undefined }), 400, /Topic/);
    assert.equal((await api(`/api/v1/enrollments/${udid}`)).enabled, true);
  });

  it('a TokenUpdate with an empty Token is refused', async () => {
    const udid = await enrolledMac();
    await refused(
      xmlMessage('mac-token-update.plist', { UDID: udid, Token: Buffer.alloc(0) }),
      400,
      /Token must be <data> of 1 to/,
    );
  });

  it('a UDID with a lone surrogate or a control character is refused', async () => {
    // The binary plist keeps UTF-16 as sent, so the lone surrogate reaches the server intact.
    const lone = `${newUdid()}\uD800`;
    const body = Buffer.from(buildBinary(fixtureDict('ipad-authenticate.plist', { UDID: lone })));
    await refused(body, 400, /UDID must be a string/, 'some-device');
    const control = `${newUdid()}\u0007`;
    const controlBody = Buffer.from(buildBinary(fixtureDict('ipad-authenticate.plist', { UDID: control })));
    await refused(controlBody, 400, /UDID must be a string/, 'some-device');
  });

  it('a Shared iPad user and a macOS user can never share an enrollment id', async () => {
    const udid = await enrolledMac();
    // "alice" as a short name is a Shared iPad user (UDID:alice); "alice" as a UserID would
    // have been the same id. A macOS UserID is the user's GUID.
    await refused(
      xmlMessage('mac-user-token-update.plist', { UDID: udid, UserID: 'alice', UserShortName: 'alice' }),
      400,
      /UserID must be the user's GUID/,
    );
    await refused(
      xmlMessage('shared-ipad-user-token-update.plist', { UDID: udid, UserShortName: MAC_USER_GUID }),
      400,
      /may not have the shape of a GUID/,
    );
    const mac = await send(t.url, xmlMessage('mac-user-token-update.plist', { UDID: udid }));
    assert.equal(mac.status, 200, mac.text);
    const ipad = await send(
      t.url,
      xmlMessage('shared-ipad-user-token-update.plist', { UDID: udid, UserShortName: 'alice' }),
    );
    assert.equal(ipad.status, 200, ipad.text);
    const users = (await fetch(`${t.url}/api/v1/devices/${udid}/users`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    }).then((r) => r.json())) as { enrollmentId: string; type: string }[];
    assert.deepEqual(
      users.map((u) => [u.enrollmentId, u.type]).sort(),
      [
        [`${udid}:${MAC_USER_GUID}`, 'User'],
        [`${udid}:alice`, 'Shared iPad'],
      ].sort(),
    );
  });

  it('CheckOut logs how many enrollments it disabled', async () => {
    const udid = await enrolledMac();
    assert.equal((await send(t.url, xmlMessage('mac-user-token-update.plist', { UDID: udid }))).status, 200);
    const shared = xmlMessage('shared-ipad-user-token-update.plist', { UDID: udid, UserShortName: 'sam' });
    assert.equal((await send(t.url, shared)).status, 200);
    const r = await send(t.url, xmlMessage('checkout.plist', { UDID: udid }));
    assert.equal(r.status, 200, r.text);
    const line = t.logs
      .entries()
      .find((l) => l.msg === 'checkin' && l.enrollmentId === udid && l.messageType === 'CheckOut');
    // The device channel and its two users.
    assert.equal(line?.enrollmentsDisabled, 3);
  });

  describe(`what passes validation fits the ${testDriver()} columns`, () => {
    it('an Authenticate over 64 KiB is 413 and changes nothing', async () => {
      const udid = newUdid();
      const padding = 'x'.repeat(66 * 1024);
      const body = xmlMessage('ipad-authenticate.plist', { UDID: udid, Padding: padding });
      await refused(body, 413, /at most 65535 bytes/);
    });

    it('text is counted in characters as the database counts them', async () => {
      // class-validator's MaxLength does not count U+FE0F: 255 such pairs are 510 characters.
      const udid = newUdid();
      await refused(
        xmlMessage('ipad-authenticate.plist', { UDID: udid, DeviceName: 'x\uFE0F'.repeat(255) }),
        400,
        /DeviceName must be a string of 0 to 255 characters/,
      );
      await refused(
        xmlMessage('ipad-authenticate.plist', { UDID: udid, Topic: `com.apple.mgmt.${'\uFE0F'.repeat(250)}` }),
        400,
        /Topic must be a string of 1 to 255 characters/,
      );
      // At the limit, with characters outside the BMP (two UTF-16 units each): stored exactly.
      const name = `${'\u{1F4BB}'.repeat(200)}${'\uFE0F'.repeat(55)}`;
      const ok = await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid, DeviceName: name }));
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await api(`/api/v1/devices/${udid}`)).deviceName, name);
      const magic = 'm\uFE0F'.repeat(127);
      const tu = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid, PushMagic: magic }));
      assert.equal(tu.status, 200, tu.text);
      assert.equal((await api(`/api/v1/enrollments/${udid}`)).pushMagic, magic);
    });
  });
});
