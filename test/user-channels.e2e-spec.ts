import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fixtureBytes, fixtureDict, newUdid, parseReply, send, xmlMessage } from './support/device.js';
import { snapshot } from './support/snapshot.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';

const ALL_F = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF';
const MAC_USER_1 = '8D2B6C1E-0F3A-4E59-B7C4-1A2B3C4D5E6F';
const MAC_USER_2 = '0A1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9';
const BYOD = '7D6C1F0A2B9E4D3C8A5F1E0B9C2D7A64';
const BYOD_USER = 'B1C2D3E4F5A60718293A4B5C6D7E8F90';

async function api<T = Record<string, unknown>>(t: TestApp, path: string): Promise<{ status: number; json: T }> {
  const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return { status: res.status, json: (await res.json()) as T };
}

async function enrollment(t: TestApp, id: string): Promise<Record<string, unknown>> {
  const r = await api(t, `/api/v1/enrollments/${encodeURIComponent(id)}`);
  assert.equal(r.status, 200, `${id}: ${JSON.stringify(r.json)}`);
  return r.json;
}

async function users(t: TestApp, udid: string): Promise<Record<string, unknown>[]> {
  const r = await api<Record<string, unknown>[]>(t, `/api/v1/devices/${encodeURIComponent(udid)}/users`);
  assert.equal(r.status, 200);
  return r.json;
}

async function ok(t: TestApp, body: Buffer): Promise<void> {
  const r = await send(t.url, body);
  assert.equal(r.status, 200, r.text);
}

async function enrollDevice(
  t: TestApp,
  udid: string,
  auth = 'ipad-authenticate.plist',
  tu = 'ipad-token-update.plist',
): Promise<void> {
  await ok(t, xmlMessage(auth, { UDID: udid }));
  await ok(t, xmlMessage(tu, { UDID: udid }));
}

/** Expects `status` and that no row changed. */
async function refused(t: TestApp, body: Buffer, status: number, reason: RegExp): Promise<void> {
  const before = await snapshot(t.dataSource);
  const r = await send(t.url, body);
  assert.equal(r.status, status, r.text);
  assert.match(r.text, reason);
  assert.deepEqual(await snapshot(t.dataSource), before);
}

describe('user channels', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('a Shared iPad session: three Managed Apple Accounts, each with its own channel, one CheckOut, then re-enrollment', async () => {
    const ipad = newUdid();
    await enrollDevice(t, ipad);
    const people = [
      'alex.morgan@schools.example.org',
      'blair.chen@schools.example.org',
      'casey.okafor@schools.example.org',
    ];
    for (const [i, who] of people.entries()) {
      await ok(
        t,
        xmlMessage('shared-ipad-user-token-update.plist', {
          UDID: ipad,
          UserShortName: who,
          Token: Buffer.alloc(32, i + 1),
          PushMagic: `MAGIC-${i}`,
          AwaitingConfiguration: i === 2,
        }),
      );
    }
    // A second TokenUpdate of the first user changes only that user's channel.
    await ok(
      t,
      xmlMessage('shared-ipad-user-token-update.plist', {
        UDID: ipad,
        UserShortName: people[0],
        Token: Buffer.alloc(40, 9),
        PushMagic: 'MAGIC-0b',
      }),
    );

    for (const [i, who] of people.entries()) {
      const e = await enrollment(t, `${ipad}:${who}`);
      assert.equal(e.type, 'Shared iPad');
      assert.equal(e.parentId, ipad);
      assert.equal(e.deviceId, ipad);
      assert.equal(e.enabled, true);
      assert.equal(e.hasUnlockToken, false);
      assert.equal(e.pushMagic, i === 0 ? 'MAGIC-0b' : `MAGIC-${i}`);
      assert.equal(e.token, (i === 0 ? Buffer.alloc(40, 9) : Buffer.alloc(32, i + 1)).toString('hex'));
      assert.equal(e.tokenUpdateCount, i === 0 ? 2 : 1);
      assert.equal(e.awaitingConfiguration, i === 2, 'the user waits for UserConfigured');
    }
    // The device channel is untouched by its users.
    const device = await enrollment(t, ipad);
    assert.equal(device.pushMagic, fixtureDict('ipad-token-update.plist').PushMagic);
    assert.equal(device.tokenUpdateCount, 1);
    assert.equal(device.hasUnlockToken, true);

    const listed = await users(t, ipad);
    assert.deepEqual(listed.map((u) => u.shortName).sort(), [...people].sort());
    assert.ok(listed.every((u) => u.userId === ALL_F && u.type === 'Shared iPad' && u.enabled === true));
    const d = await api<{ enrollments: { id: string }[] }>(t, `/api/v1/devices/${ipad}`);
    assert.equal(d.json.enrollments.length, 4);

    // One user signs out for good: CheckOut on that user's channel.
    await ok(t, xmlMessage('checkout.plist', { UDID: ipad, UserShortName: people[1], UserID: ALL_F }));
    assert.equal((await enrollment(t, `${ipad}:${people[1]}`)).enabled, false);
    assert.equal((await enrollment(t, `${ipad}:${people[0]}`)).enabled, true);
    assert.equal((await enrollment(t, ipad)).enabled, true);

    // The iPad enrolls again: every user channel is disabled until it sends TokenUpdate again.
    await ok(t, xmlMessage('ipad-authenticate.plist', { UDID: ipad }));
    for (const who of people) assert.equal((await enrollment(t, `${ipad}:${who}`)).enabled, false);
    // ... and a user channel cannot come back before its device channel does.
    await refused(
      t,
      xmlMessage('shared-ipad-user-token-update.plist', { UDID: ipad, UserShortName: people[0] }),
      400,
      /device channel .* is not enrolled/,
    );
    await ok(t, xmlMessage('ipad-token-update.plist', { UDID: ipad }));
    await ok(t, xmlMessage('shared-ipad-user-token-update.plist', { UDID: ipad, UserShortName: people[0] }));
    assert.equal((await enrollment(t, `${ipad}:${people[0]}`)).enabled, true);
  });

  it('a device-channel CheckOut disables all its user channels', async () => {
    const ipad = newUdid();
    await enrollDevice(t, ipad);
    await ok(t, xmlMessage('shared-ipad-user-token-update.plist', { UDID: ipad }));
    await ok(t, xmlMessage('checkout.plist', { UDID: ipad }));
    assert.equal((await enrollment(t, `${ipad}:alex.morgan@schools.example.org`)).enabled, false);
  });

  it("an UnlockToken sent on a user channel is ignored: never stored, the device's is kept", async () => {
    const ipad = newUdid();
    await enrollDevice(t, ipad);
    const before = await t.dataSource.query<{ u: Buffer }[]>('SELECT unlock_token AS u FROM devices WHERE id = ?', [
      ipad,
    ]);
    await ok(
      t,
      xmlMessage('shared-ipad-user-token-update.plist', {
        UDID: ipad,
        UnlockToken: Buffer.from('user-channel-unlock-token'),
      }),
    );
    const after = await t.dataSource.query<{ u: Buffer }[]>('SELECT unlock_token AS u FROM devices WHERE id = ?', [
      ipad,
    ]);
    assert.deepEqual(after, before);
    const e = await enrollment(t, `${ipad}:alex.morgan@schools.example.org`);
    assert.equal(e.hasUnlockToken, false);
    const line = t.logs
      .entries()
      .findLast((l) => l.msg === 'checkin' && l.enrollmentId === `${ipad}:alex.morgan@schools.example.org`);
    assert.equal(line?.unlockTokenIgnored, 'sent on a user channel');
  });

  it('a Mac with two local users, each on its own channel keyed by UserID', async () => {
    const mac = newUdid();
    await enrollDevice(t, mac, 'mac-authenticate.plist', 'mac-token-update.plist');
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac }));
    await ok(
      t,
      xmlMessage('mac-user-token-update.plist', {
        UDID: mac,
        UserID: MAC_USER_2,
        UserShortName: 'jordan',
        UserLongName: 'Jordan Example',
        NotOnConsole: true,
        Token: Buffer.alloc(32, 7),
        PushMagic: 'JORDAN-MAGIC',
      }),
    );
    const one = await enrollment(t, `${mac}:${MAC_USER_1}`);
    const two = await enrollment(t, `${mac}:${MAC_USER_2}`);
    assert.deepEqual([one.type, two.type], ['User', 'User']);
    assert.notEqual(one.token, two.token);
    assert.equal(two.pushMagic, 'JORDAN-MAGIC');
    const listed = await users(t, mac);
    const jordan = listed.find((u) => u.userId === MAC_USER_2);
    assert.deepEqual(
      [jordan?.shortName, jordan?.longName, jordan?.notOnConsole, jordan?.enabled],
      ['jordan', 'Jordan Example', true, true],
    );
    assert.equal(listed.find((u) => u.userId === MAC_USER_1)?.notOnConsole, false);
  });

  it('a User Enrollment device with its user side', async () => {
    await ok(t, fixtureBytes('user-enrollment-authenticate.plist'));
    await ok(t, fixtureBytes('user-enrollment-token-update.plist'));
    await ok(t, fixtureBytes('user-enrollment-user-token-update.plist'));
    const e = await enrollment(t, `${BYOD}:${BYOD_USER}`);
    assert.equal(e.type, 'User Enrollment');
    assert.equal(e.parentId, BYOD);
    assert.equal(e.deviceId, BYOD);
    const [u] = await users(t, BYOD);
    assert.deepEqual([u?.userId, u?.shortName, u?.longName], [BYOD_USER, 'sam@example.org', 'Sam Byod']);
  });

  it('refuses user-channel messages for unknown or unenrolled devices, writing nothing', async () => {
    await refused(t, xmlMessage('shared-ipad-user-token-update.plist', { UDID: newUdid() }), 400, /not enrolled/);
    const authenticatedOnly = newUdid();
    await ok(t, xmlMessage('ipad-authenticate.plist', { UDID: authenticatedOnly }));
    await refused(
      t,
      xmlMessage('shared-ipad-user-token-update.plist', { UDID: authenticatedOnly }),
      400,
      /not enrolled/,
    );
    await refused(
      t,
      xmlMessage('user-enrollment-user-token-update.plist', { EnrollmentID: 'NEVER-ENROLLED-1' }),
      400,
      /not enrolled/,
    );
    await refused(t, xmlMessage('mac-user-authenticate.plist', { UDID: newUdid() }), 400, /not enrolled/);
  });

  it('UserAuthenticate under the default policy declines the user with 410 and records it', async () => {
    const mac = newUdid();
    await enrollDevice(t, mac, 'mac-authenticate.plist', 'mac-token-update.plist');
    const r = await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac }));
    assert.equal(r.status, 410);
    const [u] = await users(t, mac);
    assert.equal(u?.userAuthenticateState, 'declined');
    assert.equal(u?.enabled, false);
    assert.ok(u?.lastUserAuthenticateAt);
    // Not for Shared iPad users.
    await refused(
      t,
      xmlMessage('mac-user-authenticate.plist', { UDID: mac, UserID: ALL_F, UserShortName: 'x@example.org' }),
      400,
      /UserAuthenticate is for macOS users/,
    );
  });
});

describe('UserAuthenticate with USER_AUTHENTICATE_POLICY=challenge', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ USER_AUTHENTICATE_POLICY: 'challenge' });
  });
  after(async () => {
    await t.close();
  });

  it('challenges, then accepts the DigestResponse with an AuthToken; both steps are recorded', async () => {
    const mac = newUdid();
    await enrollDevice(t, mac, 'mac-authenticate.plist', 'mac-token-update.plist');
    const first = await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac }));
    assert.equal(first.status, 200, first.text);
    const challenge = parseReply(first).DigestChallenge;
    assert.ok(typeof challenge === 'string' && challenge.length >= 16);
    let [u] = await users(t, mac);
    assert.equal(u?.userAuthenticateState, 'challenged');

    const second = await send(
      t.url,
      xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' }),
    );
    assert.equal(second.status, 200, second.text);
    const authToken = parseReply(second).AuthToken;
    assert.ok(typeof authToken === 'string' && authToken.length >= 16);
    [u] = await users(t, mac);
    assert.equal(u?.userAuthenticateState, 'accepted');
    // The digest is never logged.
    assert.equal(t.logs.text().includes('a1b2c3d4e5f60718293a4b5c6d7e8f90'), false);

    // Then the user's channel comes up with its TokenUpdate.
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac }));
    [u] = await users(t, mac);
    assert.equal(u?.enabled, true);
  });
});
