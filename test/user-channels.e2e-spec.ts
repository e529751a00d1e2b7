import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../src/config/config.js';
import { USER_AUTHENTICATOR } from '../src/user-channels/user-authenticator.js';
import type { DigestAttempt, DigestVerdict, UserAuthenticator } from '../src/user-channels/user-authenticator.js';
import { fixtureBytes, fixtureDict, newUdid, parseReply, send, xmlMessage } from './support/device.js';
import type { Reply } from './support/device.js';
import { digestFor, startFakeDirectory } from './support/fake-directory.js';
import type { FakeDirectory } from './support/fake-directory.js';
import { snapshot } from './support/snapshot.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';
import { createTestDatabase } from './support/test-db.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

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

  it('under the default policy a DigestResponse is 410 with nothing written and no AuthToken', async () => {
    const mac = newUdid();
    await enrollDevice(t, mac, 'mac-authenticate.plist', 'mac-token-update.plist');
    // Never seen before, then after its declined first step: the second step is refused alike.
    const digest = xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: 'c0ffee'.repeat(8) });
    await refused(t, digest, 410, /^$/);
    assert.equal((await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac }))).status, 410);
    await refused(t, digest, 410, /^$/);
    const [u] = await users(t, mac);
    assert.equal(u?.userAuthenticateState, 'declined');
    assert.equal(await authTokenHash(t, `${mac}:${MAC_USER_1}`), null);
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

/** The stored hash of a user channel's AuthToken (null when none is valid). */
async function authTokenHash(t: TestApp, id: string): Promise<string | null> {
  const rows = await t.dataSource.query<{ h: string | null }[]>('SELECT auth_token_hash AS h FROM users WHERE id = ?', [
    id,
  ]);
  return rows[0]?.h ?? null;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

function challengeOf(r: Reply): string {
  assert.equal(r.status, 200, r.text);
  const c = parseReply(r).DigestChallenge;
  assert.ok(typeof c === 'string', 'DigestChallenge is a string');
  return c;
}

function authTokenOf(r: Reply): string {
  assert.equal(r.status, 200, r.text);
  const token = parseReply(r).AuthToken;
  assert.ok(typeof token === 'string', 'AuthToken is a string');
  return token;
}

/** A macOS user logging in: both UserAuthenticate steps; returns the AuthToken. */
async function login(t: TestApp, mac: string, digestResponse = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'): Promise<string> {
  challengeOf(await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac })));
  return authTokenOf(
    await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: digestResponse })),
  );
}

async function enrolledMac(t: TestApp): Promise<string> {
  const mac = newUdid();
  await enrollDevice(t, mac, 'mac-authenticate.plist', 'mac-token-update.plist');
  return mac;
}

describe('UserAuthenticate with USER_AUTHENTICATE_POLICY=challenge', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ USER_AUTHENTICATE_POLICY: 'challenge' });
  });
  after(async () => {
    await t.close();
  });

  it('challenges, then accepts the DigestResponse with an AuthToken kept only as its hash', async () => {
    const mac = await enrolledMac(t);
    const challenge = challengeOf(await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac })));
    assert.ok(challenge.length >= 16);
    let [u] = await users(t, mac);
    assert.equal(u?.userAuthenticateState, 'challenged');

    const digest = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const authToken = authTokenOf(
      await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: digest })),
    );
    assert.ok(authToken.length >= 32);
    [u] = await users(t, mac);
    assert.equal(u?.userAuthenticateState, 'accepted');
    assert.equal(await authTokenHash(t, `${mac}:${MAC_USER_1}`), sha256(authToken));
    // The token, the digest and the used-up challenge are in no row and no log line.
    const stored = JSON.stringify(await snapshot(t.dataSource));
    for (const secret of [authToken, digest, challenge]) assert.equal(stored.includes(secret), false, secret);
    for (const secret of [authToken, digest]) assert.equal(t.logs.text().includes(secret), false, secret);

    // The user's channel comes up with its TokenUpdate, which carries the AuthToken.
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: authToken }));
    [u] = await users(t, mac);
    assert.equal(u?.enabled, true);
    const line = t.logs.entries().findLast((l) => l.msg === 'checkin' && l.messageType === 'TokenUpdate');
    assert.equal(line?.authToken, 'valid');
  });

  it('a challenge is single use: a replayed DigestResponse is 410 and changes nothing', async () => {
    const mac = await enrolledMac(t);
    const token = await login(t, mac);
    const replay = xmlMessage('mac-user-authenticate.plist', {
      UDID: mac,
      DigestResponse: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
    });
    await refused(t, replay, 410, /^$/);
    // The token handed out by the genuine answer still works.
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: token }));
  });

  it('two answers to one challenge at once: exactly one gets an AuthToken', async () => {
    const mac = await enrolledMac(t);
    challengeOf(await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac })));
    const answer = (d: string): Promise<Reply> =>
      send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: d }));
    const replies = await Promise.all([answer('11'.repeat(16)), answer('22'.repeat(16)), answer('33'.repeat(16))]);
    assert.deepEqual(replies.map((r) => r.status).sort(), [200, 410, 410]);
    const winner = replies.find((r) => r.status === 200);
    assert.ok(winner);
    assert.equal(await authTokenHash(t, `${mac}:${MAC_USER_1}`), sha256(authTokenOf(winner)));
  });

  it('a DigestResponse without a pending challenge is 410 and changes nothing', async () => {
    const mac = await enrolledMac(t);
    await refused(
      t,
      xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' }),
      410,
      /^$/,
    );
    assert.deepEqual(await users(t, mac), []);
  });

  it('a wrong AuthToken on a user-channel message is 403 and changes nothing', async () => {
    const mac = await enrolledMac(t);
    const token = await login(t, mac);
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: token }));
    const wrong = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    await refused(
      t,
      xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: wrong, PushMagic: 'NEW-MAGIC' }),
      403,
      /AuthToken is not the one issued/,
    );
    await refused(
      t,
      xmlMessage('checkout.plist', { UDID: mac, UserID: MAC_USER_1, UserShortName: 'robin', AuthToken: '' }),
      403,
      /AuthToken is not the one issued/,
    );
    await refused(
      t,
      xmlMessage('checkout.plist', {
        MessageType: 'GetToken',
        Topic: undefined,
        UDID: mac,
        UserID: MAC_USER_1,
        UserShortName: 'robin',
        UserLongName: 'Robin Example',
        TokenServiceType: 'com.apple.maid',
        AuthToken: wrong,
      }),
      403,
      /AuthToken is not the one issued/,
    );
    // Never 401: a device may unenroll on it. The right token still passes.
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: token, PushMagic: 'NEW-MAGIC' }));
    assert.equal((await enrollment(t, `${mac}:${MAC_USER_1}`)).pushMagic, 'NEW-MAGIC');
  });

  it('the AuthToken is valid until the next UserAuthenticate', async () => {
    const mac = await enrolledMac(t);
    const first = await login(t, mac);
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: first }));
    // The next login starts a handshake: from its first step on the old token is refused.
    challengeOf(await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac, AuthToken: first })));
    assert.equal(await authTokenHash(t, `${mac}:${MAC_USER_1}`), null);
    await refused(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: first }), 403, /AuthToken/);
    const second = authTokenOf(
      await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: 'ff'.repeat(16) })),
    );
    assert.notEqual(second, first);
    await refused(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: first }), 403, /AuthToken/);
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: second }));
  });

  it('an AuthToken on a channel that was never issued one is 403; messages without one pass', async () => {
    const ipad = newUdid();
    await enrollDevice(t, ipad);
    await refused(
      t,
      xmlMessage('shared-ipad-user-token-update.plist', { UDID: ipad, AuthToken: 'made-up-token-0123456789' }),
      403,
      /AuthToken is not the one issued/,
    );
    await ok(t, xmlMessage('shared-ipad-user-token-update.plist', { UDID: ipad }));
    // The device channel is not checked: AuthToken belongs to user channels.
    await ok(t, xmlMessage('ipad-token-update.plist', { UDID: ipad, AuthToken: 'made-up-token-0123456789' }));
  });
});

describe('UserAuthenticate challenges expire (USER_AUTHENTICATE_CHALLENGE_TTL_SECONDS)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ USER_AUTHENTICATE_POLICY: 'challenge', USER_AUTHENTICATE_CHALLENGE_TTL_SECONDS: '1' });
  });
  after(async () => {
    await t.close();
  });

  it('a DigestResponse after the challenge expired is 410 and changes nothing', async () => {
    const mac = await enrolledMac(t);
    challengeOf(await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac })));
    await sleep(1100);
    await refused(
      t,
      xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' }),
      410,
      /^$/,
    );
    const [u] = await users(t, mac);
    assert.equal(u?.userAuthenticateState, 'challenged');
    const line = t.logs.entries().findLast((l) => l.msg === 'checkin' && l.userAuthenticateStep === 2);
    assert.equal(line?.userAuthenticate, 'declined: challenge expired');
  });
});

describe('UserAuthenticate with USER_AUTHENTICATE_POLICY=allow', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ USER_AUTHENTICATE_POLICY: 'allow' });
  });
  after(async () => {
    await t.close();
  });

  it('answers an empty DigestChallenge (no AuthToken needed); a DigestResponse is 410', async () => {
    const mac = await enrolledMac(t);
    const first = await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac }));
    assert.equal(challengeOf(first), '');
    assert.match(
      first.text,
      /<key>DigestChallenge<\/key>\s*<string\/>|<key>DigestChallenge<\/key>\s*<string><\/string>/,
    );
    const [u] = await users(t, mac);
    assert.equal(u?.userAuthenticateState, 'allowed');
    await refused(
      t,
      xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' }),
      410,
      /^$/,
    );
    // The user's channel then comes up without any AuthToken.
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac }));
    assert.equal((await users(t, mac))[0]?.enabled, true);
  });
});

describe('a directory plugged in with USER_AUTHENTICATOR_MODULE', () => {
  const module = join(ROOT, '.build', 'test', 'support', 'http-directory-authenticator.js');
  let t: TestApp;
  let directory: FakeDirectory;
  before(async () => {
    directory = await startFakeDirectory({ robin: 'correct horse battery staple' });
    process.env.DIRECTORY_URL = directory.url;
    t = await startTestApp({ USER_AUTHENTICATE_POLICY: 'challenge', USER_AUTHENTICATOR_MODULE: module });
  });
  after(async () => {
    await t.close();
    await directory.close();
    delete process.env.DIRECTORY_URL;
  });

  const step2 = (mac: string, digest: string, user: Record<string, string> = {}): Buffer =>
    xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: digest, ...user });

  it('the right password gets an AuthToken; the directory saw our challenge and the digest', async () => {
    const mac = await enrolledMac(t);
    const challenge = challengeOf(await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac })));
    const digest = digestFor('robin', 'correct horse battery staple', challenge);
    const token = authTokenOf(await send(t.url, step2(mac, digest)));
    assert.deepEqual(directory.binds.at(-1), { user: 'robin', challenge, response: digest });
    assert.equal((await users(t, mac))[0]?.userAuthenticateState, 'accepted');
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: token }));
  });

  it('a wrong password is 200 with an empty AuthToken; no token is valid afterwards', async () => {
    const mac = await enrolledMac(t);
    const challenge = challengeOf(await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac })));
    const r = await send(t.url, step2(mac, digestFor('robin', 'Tr0ub4dor&3', challenge)));
    assert.equal(authTokenOf(r), '');
    assert.equal((await users(t, mac))[0]?.userAuthenticateState, 'rejected');
    assert.equal(await authTokenHash(t, `${mac}:${MAC_USER_1}`), null);
    // The challenge is used up by the wrong answer: the right one now comes too late.
    await refused(t, step2(mac, digestFor('robin', 'correct horse battery staple', challenge)), 410, /^$/);
  });

  it('a user the directory does not know is declined with 410', async () => {
    const mac = await enrolledMac(t);
    const who = { UserID: MAC_USER_2, UserShortName: 'mallory' };
    const challenge = challengeOf(await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac, ...who })));
    const r = await send(t.url, step2(mac, digestFor('mallory', 'guess', challenge), who));
    assert.equal(r.status, 410);
    assert.equal(r.text.includes('AuthToken'), false);
    assert.equal((await users(t, mac)).find((u) => u.userId === MAC_USER_2)?.userAuthenticateState, 'declined');
  });

  it('a module that cannot be loaded stops the start, naming the variable', async () => {
    const db = await createTestDatabase();
    try {
      await assert.rejects(
        startTestApp(
          { USER_AUTHENTICATE_POLICY: 'challenge', USER_AUTHENTICATOR_MODULE: join(ROOT, 'no-such-module.js') },
          db,
        ),
        (err: unknown) => err instanceof ConfigError && err.variable === 'USER_AUTHENTICATOR_MODULE',
      );
    } finally {
      await db.drop();
    }
  });
});

/** A directory answering as the test scripts it, in process: what a real one cannot be made to do on cue. */
class ScriptedAuthenticator implements UserAuthenticator {
  readonly attempts: DigestAttempt[] = [];
  answer: () => Promise<DigestVerdict> = () => Promise.resolve({ outcome: 'decline' });
  authenticate(attempt: DigestAttempt): Promise<DigestVerdict> {
    this.attempts.push(attempt);
    return this.answer();
  }
}

describe('the user authenticator replaced by a scripted one (overrideProvider)', () => {
  const directory = new ScriptedAuthenticator();
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ USER_AUTHENTICATE_POLICY: 'challenge' }, undefined, {
      overrides: [{ provide: USER_AUTHENTICATOR, useValue: directory }],
    });
  });
  after(async () => {
    await t.close();
  });

  it("a directory failure is 500 and writes nothing; the device's retry with the same challenge gets the directory's AuthToken", async () => {
    const mac = await enrolledMac(t);
    const challenge = challengeOf(await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac })));
    const digest = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const answer = xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: digest });
    directory.answer = () => Promise.reject(new Error('directory unreachable'));
    await refused(t, answer, 500, /^Internal Server Error\n?$/);
    const failed = t.logs.entries().findLast((l) => l.msg === 'checkin' && l.status === 500);
    assert.deepEqual([failed?.error, failed?.reason], ['INTERNAL', 'directory unreachable']);
    // The challenge is still pending: the retry reaches the directory with it.
    const issued = 'token-made-by-the-directory-0123456789';
    directory.answer = () => Promise.resolve({ outcome: 'accept', authToken: issued });
    assert.equal(authTokenOf(await send(t.url, answer)), issued);
    assert.deepEqual(
      directory.attempts.map((a) => [a.enrollment.id, a.userId, a.shortName, a.challenge, a.digestResponse]),
      [
        [`${mac}:${MAC_USER_1}`, MAC_USER_1, 'robin', challenge, digest],
        [`${mac}:${MAC_USER_1}`, MAC_USER_1, 'robin', challenge, digest],
      ],
    );
    assert.equal(await authTokenHash(t, `${mac}:${MAC_USER_1}`), sha256(issued));
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, AuthToken: issued }));
    assert.equal(t.logs.text().includes(issued), false, 'the AuthToken is never logged');
  });

  it('an AuthToken from the directory that is not 1 to 4096 characters is our fault: 500, nothing written', async () => {
    const mac = await enrolledMac(t);
    challengeOf(await send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: mac })));
    const answer = xmlMessage('mac-user-authenticate.plist', { UDID: mac, DigestResponse: 'ff'.repeat(16) });
    for (const authToken of ['', 'x'.repeat(4097)]) {
      directory.answer = () => Promise.resolve({ outcome: 'accept', authToken });
      await refused(t, answer, 500, /AuthToken that is not a string of 1 to 4096 characters/);
    }
    assert.equal((await users(t, mac))[0]?.userAuthenticateState, 'challenged');
  });
});

describe('production without a directory', () => {
  it('refuses USER_AUTHENTICATE_POLICY=challenge with the accept-all authenticator: exit 78', async () => {
    const db = await createTestDatabase();
    try {
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js')], {
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          DATABASE_URL: db.url,
          DATA_DIR: db.dataDir,
          PORT: '0',
          SECRETS_KEY: Buffer.alloc(32, 7).toString('base64'),
          DEVICE_CA_FILE: join(db.dataDir, 'ca.pem'),
          USER_AUTHENTICATE_POLICY: 'challenge',
        },
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 78, out);
      assert.match(out, /USER_AUTHENTICATOR_MODULE is required when NODE_ENV=production/);
    } finally {
      await db.drop();
    }
  });
});
