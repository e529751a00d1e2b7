import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { decodeProtectedHeader, importX509, jwtVerify } from 'jose';
import { WatchPairingTokenService } from '../src/tokens/watch-pairing.token-service.js';
import { newUdid, parseReply, send, xmlMessage } from './support/device.js';
import type { SendOptions } from './support/device.js';
import { snapshot } from './support/snapshot.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';

const SERVER_UUID = '5b8a1c2e-7d3f-4e6a-9b0c-1d2e3f4a5b6c';
const dir = mkdtempSync(join(tmpdir(), 'mdm-tokens-'));

function pemFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const pkcs8 = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();
const spki = (k: KeyObject): string => createPublicKey(k).export({ type: 'spki', format: 'pem' }).toString();

/** An RSA key and a self-signed certificate standing in for the one registered in ABM/ASM. */
async function maidKeyAndCert(): Promise<{ keyPem: string; certPem: string }> {
  x509.cryptoProvider.set(globalThis.crypto);
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  };
  const keys = await globalThis.crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=MDM Server Token',
    keys,
    signingAlgorithm: alg,
  });
  const der = Buffer.from(await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    keyPem: `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`,
    certPem: cert.toString('pem'),
  };
}

async function enroll(t: TestApp, udid = newUdid()): Promise<string> {
  assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }))).status, 200);
  assert.equal((await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }))).status, 200);
  return udid;
}

function getToken(udid: string, serviceType: string | undefined, parameters?: Record<string, string>): Buffer {
  return xmlMessage('checkout.plist', {
    MessageType: 'GetToken',
    Topic: undefined,
    UDID: udid,
    TokenServiceType: serviceType,
    ...(parameters !== undefined ? { TokenParameters: parameters } : {}),
  });
}

async function tokenOf(t: TestApp, body: Buffer, opts: SendOptions = {}): Promise<string> {
  const r = await send(t.url, body, opts);
  assert.equal(r.status, 200, r.text);
  const data = parseReply(r).TokenData;
  assert.ok(data instanceof Uint8Array, 'TokenData is <data>');
  return Buffer.from(data).toString('utf8');
}

async function verify(
  t: TestApp,
  body: Record<string, unknown>,
  auth = `Bearer ${ADMIN_KEY}`,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${t.url}/api/v1/tokens/watch-pairing/verify`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Expects the GetToken `body` to be refused with `status`, a reason, and no row changed. */
async function refused(t: TestApp, body: Buffer, status: 400 | 403, reason: RegExp): Promise<void> {
  const before = await snapshot(t.dataSource);
  const r = await send(t.url, body);
  assert.equal(r.status, status, r.text);
  assert.match(r.text, reason);
  assert.equal(r.text.includes('TokenData'), false);
  assert.deepEqual(await snapshot(t.dataSource), before);
}

describe('GetToken', () => {
  let t: TestApp;
  let maid: { keyPem: string; certPem: string };
  let oldWatchKey: KeyObject;
  before(async () => {
    maid = await maidKeyAndCert();
    oldWatchKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    t = await startTestApp({
      MAID_SERVER_UUID: SERVER_UUID,
      MAID_SIGNING_KEY_FILE: pemFile('maid.key.pem', maid.keyPem),
      MAID_SIGNING_CERT_FILE: pemFile('maid.cert.pem', maid.certPem),
      WATCH_PAIRING_KEY_FILE: pemFile('watch-old.key.pem', pkcs8(oldWatchKey)),
      WATCH_PAIRING_TTL_SECONDS: '600',
    });
  });
  after(async () => {
    await t.close();
  });

  it("com.apple.maid: a JWT with exactly Apple's claims, verified with the registered certificate", async () => {
    const udid = await enroll(t);
    const before = Math.floor(Date.now() / 1000);
    const jwt = await tokenOf(t, getToken(udid, 'com.apple.maid'));
    const { payload, protectedHeader } = await jwtVerify(jwt, await importX509(maid.certPem, 'RS256'), {
      algorithms: ['RS256'],
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.deepEqual(Object.keys(payload).sort(), ['iat', 'iss', 'jti', 'service_type']);
    assert.equal(payload.iss, SERVER_UUID);
    assert.equal(payload.service_type, 'com.apple.maid');
    assert.match(String(payload.jti), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(
      typeof payload.iat === 'number' && payload.iat >= before - 1 && payload.iat <= Math.floor(Date.now() / 1000) + 1,
    );
    const second = await tokenOf(t, getToken(udid, 'com.apple.maid'));
    assert.notEqual((await jwtVerify(second, await importX509(maid.certPem, 'RS256'))).payload.jti, payload.jti);
    // The token never reaches a log.
    assert.equal(t.logs.text().includes(jwt.split('.')[2] ?? 'x'), false);
  });

  const SHARED_IPAD_USER = {
    UserShortName: 'alex.morgan@schools.example.org',
    UserID: 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  };
  const MAC_USER = {
    UserID: '8D2B6C1E-0F3A-4E59-B7C4-1A2B3C4D5E6F',
    UserShortName: 'robin',
    UserLongName: 'Robin Example',
  };
  const userGetToken = (udid: string, user: Record<string, string>): Buffer =>
    xmlMessage('checkout.plist', {
      MessageType: 'GetToken',
      Topic: undefined,
      UDID: udid,
      TokenServiceType: 'com.apple.maid',
      ...user,
    });

  it('com.apple.maid on a Shared iPad user channel before its first TokenUpdate (the Managed Apple Account signing in)', async () => {
    const ipad = await enroll(t);
    // The sign-in asks for the token before the user's channel exists; it needs only the device channel.
    const before = await snapshot(t.dataSource);
    const jwt = await tokenOf(t, userGetToken(ipad, SHARED_IPAD_USER));
    assert.equal((await jwtVerify(jwt, await importX509(maid.certPem, 'RS256'))).payload.iss, SERVER_UUID);
    assert.deepEqual(await snapshot(t.dataSource), before, 'GetToken creates no user channel');
    // ... and after it too.
    assert.equal(
      (await send(t.url, xmlMessage('shared-ipad-user-token-update.plist', { UDID: ipad, ...SHARED_IPAD_USER })))
        .status,
      200,
    );
    await tokenOf(t, userGetToken(ipad, SHARED_IPAD_USER));
  });

  it('com.apple.maid on a macOS user channel before its first TokenUpdate', async () => {
    const mac = newUdid();
    assert.equal((await send(t.url, xmlMessage('mac-authenticate.plist', { UDID: mac }))).status, 200);
    assert.equal((await send(t.url, xmlMessage('mac-token-update.plist', { UDID: mac }))).status, 200);
    const jwt = await tokenOf(t, userGetToken(mac, MAC_USER));
    assert.equal(
      (await jwtVerify(jwt, await importX509(maid.certPem, 'RS256'))).payload.service_type,
      'com.apple.maid',
    );
  });

  it('refuses a user channel whose device channel is unknown, not yet enabled or checked out', async () => {
    await refused(t, userGetToken(newUdid(), SHARED_IPAD_USER), 400, /not known/);
    const authenticatedOnly = newUdid();
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: authenticatedOnly }))).status, 200);
    await refused(t, userGetToken(authenticatedOnly, SHARED_IPAD_USER), 400, /not known/);
    const gone = await enroll(t);
    assert.equal(
      (await send(t.url, xmlMessage('shared-ipad-user-token-update.plist', { UDID: gone, ...SHARED_IPAD_USER })))
        .status,
      200,
    );
    assert.equal((await send(t.url, xmlMessage('checkout.plist', { UDID: gone }))).status, 200);
    await refused(t, userGetToken(gone, SHARED_IPAD_USER), 400, new RegExp(`enrollment ${gone} is not enabled`));
    // Re-enrolled (Authenticate) but no TokenUpdate yet: still refused.
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: gone }))).status, 200);
    await refused(t, userGetToken(gone, SHARED_IPAD_USER), 400, /not enabled/);
  });

  it("refuses a user channel that was checked out, and serves it again after the device's re-enrollment", async () => {
    const udid = await enroll(t);
    const userTu = xmlMessage('shared-ipad-user-token-update.plist', { UDID: udid, ...SHARED_IPAD_USER });
    assert.equal((await send(t.url, userTu)).status, 200);
    const userCheckOut = xmlMessage('checkout.plist', { UDID: udid, ...SHARED_IPAD_USER });
    assert.equal((await send(t.url, userCheckOut)).status, 200);
    // The device channel is still enabled; the user left.
    await refused(t, userGetToken(udid, SHARED_IPAD_USER), 400, /was checked out/);
    // The device enrolls again: the user's channel waits for its TokenUpdate, and a sign-in
    // before it is served, as for a user never seen.
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }))).status, 200);
    assert.equal((await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }))).status, 200);
    const r = await send(t.url, userGetToken(udid, SHARED_IPAD_USER));
    assert.equal(r.status, 200, r.text);
  });

  it('refuses a missing or unknown TokenServiceType with 400', async () => {
    const udid = await enroll(t);
    await refused(t, getToken(udid, undefined), 400, /TokenServiceType must be a string/);
    await refused(t, getToken(udid, 'com.example.unknown'), 400, /unknown TokenServiceType "com.example.unknown"/);
  });

  it('refuses an unknown device, an enrollment without TokenUpdate, and a disabled one', async () => {
    await refused(t, getToken(newUdid(), 'com.apple.maid'), 400, /not known/);
    const authenticatedOnly = newUdid();
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: authenticatedOnly }))).status, 200);
    await refused(t, getToken(authenticatedOnly, 'com.apple.maid'), 400, /not known/);
    const gone = await enroll(t);
    assert.equal((await send(t.url, xmlMessage('checkout.plist', { UDID: gone }))).status, 200);
    await refused(t, getToken(gone, 'com.apple.maid'), 400, /not enabled/);
  });

  describe('com.apple.watch.pairing', () => {
    const watch = 'c3a1e9f0d2b84e6f9a7c5d3b1e0f2a4c6b8d0e1f';
    const security = 'S3CUR1TY-T0KEN-from-the-watch';

    it('needs PhoneUDID, SecurityToken and WatchUDID', async () => {
      const phone = await enroll(t);
      await refused(t, getToken(phone, 'com.apple.watch.pairing'), 400, /PhoneUDID, SecurityToken, WatchUDID/);
      await refused(
        t,
        getToken(phone, 'com.apple.watch.pairing', { PhoneUDID: phone, WatchUDID: watch }),
        400,
        /needs TokenParameters with SecurityToken/,
      );
    });

    it("refuses a phone asking for another phone's token with 403", async () => {
      const phone = await enroll(t);
      const other = await enroll(t);
      await refused(
        t,
        getToken(phone, 'com.apple.watch.pairing', { PhoneUDID: other, SecurityToken: security, WatchUDID: watch }),
        403,
        /PhoneUDID must be the enrolled iPhone/,
      );
    });

    it('issues a signed token the watch server accepts once', async () => {
      const phone = await enroll(t);
      const token = await tokenOf(
        t,
        getToken(phone, 'com.apple.watch.pairing', { PhoneUDID: phone, SecurityToken: security, WatchUDID: watch }),
      );
      const header = decodeProtectedHeader(token);
      assert.equal(header.alg, 'ES256');
      assert.equal(header.typ, 'mdm-watch-pairing+jwt');
      assert.ok(typeof header.kid === 'string' && header.kid.length > 20);
      assert.equal(token.includes(security), false, 'the SecurityToken itself is not in the token');

      assert.equal(
        (await verify(t, { token, watchUdid: watch, securityToken: security }, 'Bearer wrong-key-000000000')).status,
        401,
      );
      const ok = await verify(t, { token, watchUdid: watch, securityToken: security });
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.equal(ok.json.valid, true);
      assert.equal(ok.json.phoneEnrollmentId, phone);
      assert.equal(ok.json.watchUdid, watch);
      const replay = await verify(t, { token, watchUdid: watch, securityToken: security });
      assert.equal(replay.status, 403);
      assert.deepEqual([replay.json.valid, replay.json.reason], [false, 'replayed']);
    });

    it('rejects the wrong watch, the wrong SecurityToken, a tampered token and a malformed request, without consuming it', async () => {
      const phone = await enroll(t);
      const token = await tokenOf(
        t,
        getToken(phone, 'com.apple.watch.pairing', { PhoneUDID: phone, SecurityToken: security, WatchUDID: watch }),
      );
      assert.equal(
        (await verify(t, { token, watchUdid: 'another-watch', securityToken: security })).json.reason,
        'wrong_watch',
      );
      assert.equal(
        (await verify(t, { token, watchUdid: watch, securityToken: 'guess' })).json.reason,
        'wrong_security_token',
      );
      const [h, p, s] = token.split('.');
      const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<string, unknown>;
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, watch_udid: 'evil-watch' })).toString('base64url')}.${s}`;
      assert.equal(
        (await verify(t, { token: forged, watchUdid: 'evil-watch', securityToken: security })).json.reason,
        'bad_signature',
      );
      assert.equal(
        (await verify(t, { token: 'not.a.token', watchUdid: watch, securityToken: security })).json.reason,
        'malformed',
      );
      assert.equal((await verify(t, { token })).status, 400);
      // None of that used the token up.
      assert.equal((await verify(t, { token, watchUdid: watch, securityToken: security })).status, 200);
    });

    it('rejects an expired token and one whose phone is no longer enrolled', async () => {
      const phone = await enroll(t);
      const params = { PhoneUDID: phone, SecurityToken: security, WatchUDID: watch };
      const service = t.app.get(WatchPairingTokenService);
      const token = await tokenOf(t, getToken(phone, 'com.apple.watch.pairing', params));
      const later = new Date(Date.now() + 601_000);
      await assert.rejects(
        service.verify(token, watch, security, later),
        (err: { reason?: string }) => err.reason === 'expired',
      );
      assert.equal((await send(t.url, xmlMessage('checkout.plist', { UDID: phone }))).status, 200);
      assert.equal(
        (await verify(t, { token, watchUdid: watch, securityToken: security })).json.reason,
        'phone_not_enrolled',
      );
    });

    it('keeps tokens in flight valid across a key rotation; refuses unknown keys', async () => {
      const phone = await enroll(t);
      const params = { PhoneUDID: phone, SecurityToken: security, WatchUDID: watch };
      const oldToken = await tokenOf(t, getToken(phone, 'com.apple.watch.pairing', params));
      // Another instance of the organisation on the same database: a new signing key, the old
      // one kept for verification.
      const newKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const rotated = await startTestApp(
        {
          MAID_SERVER_UUID: SERVER_UUID,
          MAID_SIGNING_KEY_FILE: join(dir, 'maid.key.pem'),
          MAID_SIGNING_CERT_FILE: join(dir, 'maid.cert.pem'),
          WATCH_PAIRING_KEY_FILE: pemFile('watch-new.key.pem', pkcs8(newKey)),
          WATCH_PAIRING_VERIFY_KEYS_FILE: pemFile('watch-old.pub.pem', spki(oldWatchKey)),
        },
        t.db,
        { ca: t.signer?.ca },
      );
      try {
        const ok = await verify(rotated, { token: oldToken, watchUdid: watch, securityToken: security });
        assert.equal(ok.status, 200, JSON.stringify(ok.json));
        // The same phone, with the identity it enrolled with, asks the other instance.
        const fresh = await tokenOf(rotated, getToken(phone, 'com.apple.watch.pairing', params), {
          identity: await t.signer?.identityFor(phone),
        });
        assert.notEqual(decodeProtectedHeader(fresh).kid, decodeProtectedHeader(oldToken).kid);
        // The old instance does not know the new key.
        assert.equal(
          (await verify(t, { token: fresh, watchUdid: watch, securityToken: security })).json.reason,
          'unknown_key',
        );
        assert.equal((await verify(rotated, { token: fresh, watchUdid: watch, securityToken: security })).status, 200);
      } finally {
        await rotated.close();
      }
    });
  });
});

describe('GetToken with no token service configured', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('answers 400 naming what to configure', async () => {
    const udid = await enroll(t);
    await refused(t, getToken(udid, 'com.apple.maid'), 400, /com.apple.maid is not enabled: set MAID_SERVER_UUID/);
    await refused(
      t,
      getToken(udid, 'com.apple.watch.pairing', { PhoneUDID: udid, SecurityToken: 'x', WatchUDID: 'y' }),
      400,
      /not enabled: set WATCH_PAIRING_KEY_FILE/,
    );
    assert.equal((await verify(t, { token: 'a', watchUdid: 'b', securityToken: 'c' })).status, 404);
  });

  it('refuses to start when the maid key does not match its certificate', async () => {
    const maid = await maidKeyAndCert();
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await assert.rejects(
      startTestApp({
        MAID_SERVER_UUID: SERVER_UUID,
        MAID_SIGNING_KEY_FILE: pemFile('mismatch.key.pem', pkcs8(otherKey)),
        MAID_SIGNING_CERT_FILE: pemFile('mismatch.cert.pem', maid.certPem),
      }),
      /does not hold the private key of the certificate/,
    );
  });
});
