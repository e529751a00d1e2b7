import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signDetached } from '../src/device-identity/cms-signer.js';
import { fingerprintOf } from '../src/device-identity/certificate-verifier.js';
import { issueIdentity } from '../src/device-identity/dev-ca.js';
import type { CertificateAuthority, DeviceIdentity } from '../src/device-identity/dev-ca.js';
import { DatabaseService } from '../src/database/database.service.js';
import { CertificateBindingsRepository } from '../src/device-identity/certificate-bindings.repository.js';
import { EnrollmentsRepository } from '../src/enrollments/enrollments.repository.js';
import { newUdid, send, xmlMessage } from './support/device.js';
import type { SendOptions } from './support/device.js';
import { snapshot } from './support/snapshot.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestDatabase } from './support/test-db.js';
import type { TestApp } from './support/test-app.js';
import { createTestDatabase, testDriver } from './support/test-db.js';

interface CertificateJson {
  fingerprint: string;
  subject: string;
  boundAt: string;
  revokedAt: string | null;
  revokedReason: string | null;
  active: boolean;
}

async function api(t: TestApp, path: string, method = 'GET', key: string | null = ADMIN_KEY): Promise<Response> {
  return fetch(`${t.url}/api/v1${path}`, {
    method,
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
  });
}

async function deviceJson(t: TestApp, udid: string): Promise<Record<string, unknown>> {
  const res = await api(t, `/devices/${encodeURIComponent(udid)}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}

async function certificates(t: TestApp, udid: string): Promise<CertificateJson[]> {
  return (await deviceJson(t, udid)).certificates as CertificateJson[];
}

function fp(identity: DeviceIdentity): string {
  return fingerprintOf(identity.certDer);
}

/** Sends and expects 200. */
async function ok(
  t: TestApp,
  name: string,
  overrides: Parameters<typeof xmlMessage>[1],
  opts: SendOptions,
): Promise<void> {
  const r = await send(t.url, xmlMessage(name, overrides), opts);
  assert.equal(r.status, 200, `${name}: ${r.text}`);
}

/** Authenticate then TokenUpdate (with an UnlockToken, as the fixture has) under `identity`. */
async function enroll(t: TestApp, udid: string, identity: DeviceIdentity, serial?: string): Promise<void> {
  await ok(t, 'ipad-authenticate.plist', { UDID: udid, ...(serial ? { SerialNumber: serial } : {}) }, { identity });
  await ok(t, 'ipad-token-update.plist', { UDID: udid }, { identity });
}

/** Expects `status` with a reason matching `reason`, never 401, and no row changed. */
async function refused(t: TestApp, body: Buffer, opts: SendOptions, status: 400 | 403, reason: RegExp): Promise<void> {
  const before = await snapshot(t.dataSource);
  const r = await send(t.url, body, opts);
  assert.equal(r.status, status, r.text);
  assert.match(r.text, reason);
  assert.deepEqual(await snapshot(t.dataSource), before);
}

/** The warn lines about binding changes written since `from`. */
function bindingLogs(t: TestApp, from: number): Record<string, unknown>[] {
  return t.logs
    .entries()
    .slice(from)
    .filter((l) => l.msg === 'certificate bindings changed');
}

describe('certificate bindings: a new certificate is added, never silently replacing (DEVICE_CERT_MATCH=none)', () => {
  let t: TestApp;
  let ca: CertificateAuthority;
  before(async () => {
    t = await startTestApp();
    assert.ok(t.signer);
    ca = t.signer.ca;
  });
  after(async () => {
    await t.close();
  });

  it('a stranger certificate from the CA cannot lock the device out or wipe its secrets', async () => {
    const udid = newUdid();
    const genuine = await issueIdentity(ca, { commonName: udid });
    const enrolledFrom = t.logs.lines.length;
    await enroll(t, udid, genuine);
    // A device's first certificate is routine: info, not warn.
    const first = bindingLogs(t, enrolledFrom);
    assert.deepEqual(
      first.map((l) => [l.level, l.oldFingerprints, l.newFingerprint]),
      [['info', [], fp(genuine)]],
    );
    await ok(t, 'mac-set-bootstrap-token.plist', { UDID: udid }, { identity: genuine });
    const secretsBefore = await t.dataSource.query<unknown[]>(
      'SELECT unlock_token, unlock_token_at, bootstrap_token, bootstrap_token_at FROM devices WHERE id = ?',
      [udid],
    );

    const logFrom = t.logs.lines.length;
    const stranger = await issueIdentity(ca, { commonName: 'someone else' });
    await ok(t, 'ipad-authenticate.plist', { UDID: udid }, { identity: stranger });

    // The binding was added, with a warn line naming the old and the new fingerprint.
    const [line, ...more] = bindingLogs(t, logFrom);
    assert.equal(more.length, 0);
    assert.ok(line);
    assert.equal(line.level, 'warn');
    assert.deepEqual(line.oldFingerprints, [fp(genuine)]);
    assert.equal(line.newFingerprint, fp(stranger));
    assert.deepEqual(line.revokedFingerprints, []);
    const certs = await certificates(t, udid);
    assert.deepEqual(
      certs.map((c) => [c.fingerprint, c.active, c.revokedAt]),
      [
        [fp(genuine), true, null],
        [fp(stranger), true, null],
      ],
    );
    // The escrowed secrets are untouched.
    assert.deepEqual(
      await t.dataSource.query<unknown[]>(
        'SELECT unlock_token, unlock_token_at, bootstrap_token, bootstrap_token_at FROM devices WHERE id = ?',
        [udid],
      ),
      secretsBefore,
    );
    // The genuine device carries on: its certificate still speaks for it.
    await ok(t, 'ipad-token-update.plist', { UDID: udid }, { identity: genuine });
    const get = await send(t.url, xmlMessage('mac-get-bootstrap-token.plist', { UDID: udid }), {
      identity: genuine,
    });
    assert.equal(get.status, 200);
    assert.match(get.text, /BootstrapToken/);
    // And the stranger's certificate stays this device's: it cannot speak for another one.
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: newUdid() }),
      { identity: stranger },
      403,
      /already bound to another device/,
    );
  });

  it('an administrator revokes a certificate: it stops for good, a replayed Authenticate restores nothing', async () => {
    const udid = newUdid();
    const older = await issueIdentity(ca, { commonName: udid });
    await enroll(t, udid, older);
    // A signed Authenticate of the older certificate, captured on the wire.
    const captured = xmlMessage('ipad-authenticate.plist', { UDID: udid });
    const capturedSignature = await signDetached(captured, older.certDer, older.key);
    const renewed = await issueIdentity(ca, { commonName: udid });
    await enroll(t, udid, renewed);

    const path = `/devices/${encodeURIComponent(udid)}/certificates/${fp(older)}`;
    // The API key guards the route (401 is for administrators, never for devices).
    const before = await snapshot(t.dataSource);
    assert.equal((await api(t, path, 'DELETE', null)).status, 401);
    assert.equal((await api(t, path, 'DELETE', 'wrong-key-0123456789')).status, 401);
    assert.deepEqual(await snapshot(t.dataSource), before);

    const logFrom = t.logs.lines.length;
    // The fingerprint may be written in either case.
    const res = await api(t, `/devices/${encodeURIComponent(udid)}/certificates/${fp(older).toUpperCase()}`, 'DELETE');
    assert.equal(res.status, 204);
    const [line] = bindingLogs(t, logFrom);
    assert.ok(line);
    assert.equal(line.level, 'warn');
    assert.deepEqual(line.oldFingerprints, [fp(renewed), fp(older)]);
    assert.deepEqual(line.revokedFingerprints, [fp(older)]);
    assert.deepEqual(line.activeFingerprints, [fp(renewed)]);
    assert.equal(line.revokedReason, 'administrator');
    const certs = await certificates(t, udid);
    const old = certs.find((c) => c.fingerprint === fp(older));
    assert.ok(old);
    assert.equal(old.active, false);
    assert.equal(old.revokedReason, 'administrator');
    assert.ok(old.revokedAt !== null && old.revokedAt >= old.boundAt);
    assert.equal(((await deviceJson(t, udid)).certificate as CertificateJson).fingerprint, fp(renewed));

    // The revoked certificate is refused on every message, the replay included; nothing changes.
    await refused(t, xmlMessage('ipad-token-update.plist', { UDID: udid }), { identity: older }, 403, /revoked for/);
    await refused(t, captured, { sign: false, headers: { 'mdm-signature': capturedSignature } }, 403, /revoked for/);
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: newUdid() }),
      { identity: older },
      403,
      /already bound to another device/,
    );
    // The renewed certificate is unaffected.
    await ok(t, 'ipad-token-update.plist', { UDID: udid }, { identity: renewed });

    // Revoking again changes nothing; unknown certificates, devices and malformed names do not exist.
    const snap = await snapshot(t.dataSource);
    assert.equal((await api(t, path, 'DELETE')).status, 204);
    assert.equal(
      (await api(t, `/devices/${encodeURIComponent(udid)}/certificates/${'0'.repeat(64)}`, 'DELETE')).status,
      404,
    );
    assert.equal((await api(t, `/devices/${newUdid()}/certificates/${fp(renewed)}`, 'DELETE')).status, 404);
    assert.equal(
      (await api(t, `/devices/${encodeURIComponent(udid)}/certificates/not-a-fingerprint`, 'DELETE')).status,
      400,
    );
    assert.deepEqual(await snapshot(t.dataSource), snap);

    // Revoking the last one leaves the device nothing until it enrolls again with a new certificate.
    assert.equal(
      (await api(t, `/devices/${encodeURIComponent(udid)}/certificates/${fp(renewed)}`, 'DELETE')).status,
      204,
    );
    await refused(t, xmlMessage('ipad-token-update.plist', { UDID: udid }), { identity: renewed }, 403, /revoked for/);
    await refused(
      t,
      xmlMessage('ipad-token-update.plist', { UDID: udid }),
      { identity: await issueIdentity(ca, { commonName: udid }) },
      403,
      /every certificate bound to .* was revoked/,
    );
    await enroll(t, udid, await issueIdentity(ca, { commonName: udid }));
  });

  it('shows an expired certificate as inactive, and no current certificate when none is active', async () => {
    const udid = newUdid();
    const identity = await issueIdentity(ca, { commonName: udid });
    await enroll(t, udid, identity);
    // The verifier refuses an expired certificate on every message; the view says so too.
    await t.dataSource.query(
      "UPDATE certificate_bindings SET not_after = '2001-01-01 00:00:00' WHERE fingerprint = ?",
      [fp(identity)],
    );
    const d = await deviceJson(t, udid);
    assert.equal(d.certificate, null);
    assert.deepEqual(
      (d.certificates as CertificateJson[]).map((c) => [c.fingerprint, c.active, c.revokedAt]),
      [[fp(identity), false, null]],
    );
  });

  it("a stranger's CheckOut revokes nothing: the genuine device keeps its certificate and comes back", async () => {
    const udid = newUdid();
    const genuine = await issueIdentity(ca, { commonName: udid });
    await enroll(t, udid, genuine);
    const stranger = await issueIdentity(ca, { commonName: 'someone else' });
    await ok(t, 'ipad-authenticate.plist', { UDID: udid }, { identity: stranger });
    await ok(t, 'checkout.plist', { UDID: udid }, { identity: stranger });
    assert.deepEqual(
      (await certificates(t, udid)).map((c) => [c.fingerprint, c.active, c.revokedReason]),
      [
        [fp(genuine), true, null],
        [fp(stranger), true, null],
      ],
    );
    // The genuine device's next TokenUpdate enables its enrollment again.
    await ok(t, 'ipad-token-update.plist', { UDID: udid }, { identity: genuine });
    const enrollment = (await (await api(t, `/enrollments/${encodeURIComponent(udid)}`)).json()) as {
      enabled: boolean;
    };
    assert.equal(enrollment.enabled, true);
  });

  it('never accepts the CA certificate, or any CA certificate, as a device identity', async () => {
    const udid = newUdid();
    const caAsDevice: DeviceIdentity = {
      certPem: ca.certPem,
      certDer: Buffer.from(ca.cert.rawData),
      keyPem: '',
      key: ca.key,
    };
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: udid }),
      { identity: caAsDevice },
      403,
      /CA certificate is not a device identity/,
    );
    const intermediate = await issueIdentity(ca, { commonName: udid, ca: true });
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: udid }),
      { identity: intermediate },
      403,
      /CA certificate is not a device identity/,
    );
  });

  // Same application as above (DEVICE_CERT_MATCH=none).
  describe('a TokenUpdate checks its binding in the statement that writes it', () => {
    /** The single statements the application runs while `fn` runs (through DatabaseService.query). */
    async function statements(fn: () => Promise<void>): Promise<string[]> {
      const seen: string[] = [];
      const db = t.app.get(DatabaseService);
      const original = db.query.bind(db);
      db.query = <T>(sql: string, params?: readonly unknown[]) => {
        seen.push(sql);
        return original<T>(sql, params);
      };
      try {
        await fn();
      } finally {
        db.query = original;
      }
      return seen;
    }

    async function countOf(udid: string): Promise<number> {
      const e = ((await deviceJson(t, udid)).enrollments as { id: string; tokenUpdateCount: number }[]).find(
        (x) => x.id === udid,
      );
      assert.ok(e);
      return e.tokenUpdateCount;
    }

    it('a bound certificate: one statement, which names the binding, and the count goes up', async () => {
      const udid = newUdid();
      const identity = await issueIdentity(ca, { commonName: udid });
      await ok(t, 'mac-authenticate.plist', { UDID: udid }, { identity });
      await ok(t, 'mac-token-update.plist', { UDID: udid }, { identity });
      const seen = await statements(() => ok(t, 'mac-token-update.plist', { UDID: udid }, { identity }));
      assert.equal(seen.length, 1, seen.join('\n'));
      assert.match(
        seen[0] ?? '',
        /INSERT INTO enrollments .* WHERE EXISTS \(SELECT 1 FROM certificate_bindings WHERE/s,
      );
      assert.equal(await countOf(udid), 2);
    });

    it('on the one-statement path a revoked, a foreign or an unbound certificate writes nothing', async () => {
      const udid = newUdid();
      const identity = await issueIdentity(ca, { commonName: udid });
      await ok(t, 'mac-authenticate.plist', { UDID: udid }, { identity });
      await ok(t, 'mac-token-update.plist', { UDID: udid }, { identity });
      const other = newUdid();
      const foreign = await issueIdentity(ca, { commonName: other });
      await ok(t, 'mac-authenticate.plist', { UDID: other }, { identity: foreign });
      // Another device's certificate, a certificate never bound, then the device's own revoked one.
      const tokenUpdate = xmlMessage('mac-token-update.plist', { UDID: udid });
      await refused(t, tokenUpdate, { identity: foreign }, 403, /not one of those bound to/);
      await refused(
        t,
        tokenUpdate,
        { identity: await issueIdentity(ca, { commonName: udid }) },
        403,
        /not one of those/,
      );
      const revoke = await api(t, `/devices/${encodeURIComponent(udid)}/certificates/${fp(identity)}`, 'DELETE');
      assert.equal(revoke.status, 204);
      await refused(t, tokenUpdate, { identity }, 403, /revoked for/);
      // A macOS user channel of the device (a transaction: the guard is read first in it).
      await refused(t, xmlMessage('mac-user-token-update.plist', { UDID: udid }), { identity }, 403, /revoked for/);
      assert.equal(await countOf(udid), 1);
    });

    it('the guarded upsert writes only while the binding holds, on both drivers', async () => {
      const udid = newUdid();
      const identity = await issueIdentity(ca, { commonName: udid });
      await ok(t, 'mac-authenticate.plist', { UDID: udid }, { identity });
      await ok(t, 'mac-token-update.plist', { UDID: udid }, { identity });
      const repo = t.app.get(EnrollmentsRepository);
      const bindings = t.app.get(CertificateBindingsRepository);
      const db = t.app.get(DatabaseService);
      const row = {
        id: udid,
        deviceId: udid,
        parentId: null,
        type: 'Device' as const,
        topic: 'com.apple.mgmt.External.guard-test',
        pushMagic: 'guarded',
        token: Buffer.from('guarded'),
        awaitingConfiguration: false,
      };
      const held = bindings.activeBindingGuard(udid, fp(identity));
      assert.equal(await repo.upsertFromTokenUpdateIf(db, row, new Date(), held), 2);
      assert.equal(await repo.holds(db, held), true);
      // Guards that do not hold: another device's id, another fingerprint; then the binding revoked.
      const before = await snapshot(t.dataSource);
      for (const guard of [
        bindings.activeBindingGuard(newUdid(), fp(identity)),
        bindings.activeBindingGuard(udid, 'ab'.repeat(32)),
      ]) {
        assert.equal(await repo.upsertFromTokenUpdateIf(db, row, new Date(), guard), undefined);
        assert.equal(await repo.holds(db, guard), false);
      }
      assert.deepEqual(await snapshot(t.dataSource), before);
      assert.equal(
        (await api(t, `/devices/${encodeURIComponent(udid)}/certificates/${fp(identity)}`, 'DELETE')).status,
        204,
      );
      const revoked = await snapshot(t.dataSource);
      assert.equal(await repo.upsertFromTokenUpdateIf(db, row, new Date(), held), undefined);
      assert.deepEqual(await snapshot(t.dataSource), revoked);
      // And a new enrollment id (the insert path) is not created either.
      assert.equal(
        await repo.upsertFromTokenUpdateIf(db, { ...row, id: `${udid}:guard` }, new Date(), held),
        undefined,
      );
      assert.deepEqual(await snapshot(t.dataSource), revoked);
    });
  });
});

describe('certificate bindings: DEVICE_CERT_MATCH=udid', () => {
  let t: TestApp;
  let ca: CertificateAuthority;
  before(async () => {
    t = await startTestApp({ DEVICE_CERT_MATCH: 'udid' });
    assert.ok(t.signer);
    ca = t.signer.ca;
  });
  after(async () => {
    await t.close();
  });

  it('refuses a certificate that does not name the UDID, writing nothing', async () => {
    const udid = newUdid();
    const genuine = await issueIdentity(ca, { commonName: udid });
    await enroll(t, udid, genuine);
    const stranger = await issueIdentity(ca, { commonName: 'someone else', subjectSerialNumber: 'F9FXK2Q1JN' });
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: udid }),
      { identity: stranger },
      403,
      /does not name the device's UDID \(DEVICE_CERT_MATCH=udid\)/,
    );
    // A new device too: the certificate must name it from the first message.
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: newUdid() }),
      { identity: stranger },
      403,
      /does not name the device's UDID/,
    );
  });

  it('a matching new certificate (UDID in a subjectAltName) replaces the old bindings; a replay of the old one is refused', async () => {
    const udid = newUdid();
    const older = await issueIdentity(ca, { commonName: udid.toLowerCase() });
    await enroll(t, udid, older);
    const captured = xmlMessage('ipad-authenticate.plist', { UDID: udid });
    const capturedSignature = await signDetached(captured, older.certDer, older.key);

    const renewed = await issueIdentity(ca, {
      commonName: 'Device Identity',
      subjectAltNames: [{ type: 'url', value: udid }],
    });
    const logFrom = t.logs.lines.length;
    await enroll(t, udid, renewed);
    const [line] = bindingLogs(t, logFrom);
    assert.ok(line);
    assert.equal(line.level, 'warn');
    assert.deepEqual(line.oldFingerprints, [fp(older)]);
    assert.equal(line.newFingerprint, fp(renewed));
    assert.deepEqual(line.revokedFingerprints, [fp(older)]);
    assert.equal(line.revokedReason, 'replaced');
    assert.deepEqual(
      (await certificates(t, udid)).map((c) => [c.fingerprint, c.active, c.revokedReason]),
      [
        [fp(older), false, 'replaced'],
        [fp(renewed), true, null],
      ],
    );
    await refused(t, xmlMessage('ipad-token-update.plist', { UDID: udid }), { identity: older }, 403, /revoked for/);
    await refused(t, captured, { sign: false, headers: { 'mdm-signature': capturedSignature } }, 403, /revoked for/);
    await ok(t, 'ipad-token-update.plist', { UDID: udid }, { identity: renewed });
  });
});

describe('certificate bindings: CheckOut under a match rule turned on after devices enrolled under none', () => {
  let t: TestApp;
  let ca: CertificateAuthority;
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    t = await startTestApp({ DEVICE_CERT_MATCH: 'udid' }, db);
    assert.ok(t.signer);
    ca = t.signer.ca;
  });
  after(async () => {
    await t.close();
    await db.drop();
  });

  /** Both certificates bound and active, as under `none`; then the server runs with the match rule again. */
  async function enrollUnderNone(udid: string, older: DeviceIdentity, renewed: DeviceIdentity): Promise<void> {
    await t.close();
    const loose = await startTestApp({ DEVICE_CERT_MATCH: 'none' }, db, { ca });
    await enroll(loose, udid, older);
    await enroll(loose, udid, renewed);
    await loose.close();
    t = await startTestApp({ DEVICE_CERT_MATCH: 'udid' }, db, { ca });
  }

  it("under a match rule the device channel's CheckOut ends its other certificates; the one it checked out with stays", async () => {
    const udid = newUdid();
    const older = await issueIdentity(ca, { commonName: udid });
    const renewed = await issueIdentity(ca, { commonName: udid });
    await enrollUnderNone(udid, older, renewed);
    const logFrom = t.logs.lines.length;
    await ok(t, 'checkout.plist', { UDID: udid }, { identity: renewed });
    const [line] = bindingLogs(t, logFrom);
    assert.ok(line);
    assert.deepEqual(line.revokedFingerprints, [fp(older)]);
    assert.equal(line.revokedReason, 'checkout');
    const certs = await certificates(t, udid);
    assert.deepEqual(
      certs.map((c) => [c.fingerprint, c.active, c.revokedReason]),
      [
        [fp(older), false, 'checkout'],
        [fp(renewed), true, null],
      ],
    );
    const enrollment = (await (await api(t, `/enrollments/${encodeURIComponent(udid)}`)).json()) as {
      enabled: boolean;
    };
    assert.equal(enrollment.enabled, false);
    await refused(t, xmlMessage('ipad-authenticate.plist', { UDID: udid }), { identity: older }, 403, /revoked for/);
    // Coming back with the certificate it left with works.
    await enroll(t, udid, renewed);
  });

  it('a CheckOut whose revocation fails leaves the enrollment enabled: one transaction', async () => {
    const udid = newUdid();
    const older = await issueIdentity(ca, { commonName: udid });
    const renewed = await issueIdentity(ca, { commonName: udid });
    await enrollUnderNone(udid, older, renewed);
    await t.dataSource.query(
      testDriver() === 'sqlite'
        ? "CREATE TRIGGER fail_revoke BEFORE UPDATE ON certificate_bindings BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
        : "CREATE TRIGGER fail_revoke BEFORE UPDATE ON certificate_bindings FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'simulated failure'",
    );
    try {
      const before = await snapshot(t.dataSource);
      const r = await send(t.url, xmlMessage('checkout.plist', { UDID: udid }), { identity: renewed });
      assert.equal(r.status, 500);
      assert.deepEqual(await snapshot(t.dataSource), before);
    } finally {
      await t.dataSource.query('DROP TRIGGER fail_revoke');
    }
  });
});

describe('certificate bindings: DEVICE_CERT_MATCH=serial and udid-or-serial', () => {
  let serialApp: TestApp;
  let eitherApp: TestApp;
  before(async () => {
    serialApp = await startTestApp({ DEVICE_CERT_MATCH: 'serial' });
    eitherApp = await startTestApp({ DEVICE_CERT_MATCH: 'udid-or-serial' });
  });
  after(async () => {
    await serialApp.close();
    await eitherApp.close();
  });

  it('serial: the subject serialNumber names the device; later messages are checked against the stored serial', async () => {
    const t = serialApp;
    assert.ok(t.signer);
    const udid = newUdid();
    const identity = await issueIdentity(t.signer.ca, { commonName: udid, subjectSerialNumber: 'C02SERIAL01' });
    // The UDID alone is not enough under `serial`.
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: udid, SerialNumber: 'C02SERIAL02' }),
      { identity },
      403,
      /does not name the device's serial number/,
    );
    await enroll(t, udid, identity, 'C02SERIAL01');
    // CheckOut carries no SerialNumber: the stored one is used.
    await ok(t, 'checkout.plist', { UDID: udid }, { identity });

    // An attacker's certificate naming its own serial cannot take over this UDID by claiming that serial.
    const attacker = await issueIdentity(t.signer.ca, { commonName: 'attacker', subjectSerialNumber: 'ATTACKER01' });
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: udid, SerialNumber: 'ATTACKER01' }),
      { identity: attacker },
      403,
      /does not name the device's serial number/,
    );
  });

  it('a known device that never sent a serial has none to match: a certificate naming a claimed serial is refused', async () => {
    const t = eitherApp;
    assert.ok(t.signer);
    const udid = newUdid();
    // Enrolled by its UDID, without a SerialNumber (as User Enrollment devices always are).
    const genuine = await issueIdentity(t.signer.ca, { commonName: udid });
    await ok(t, 'ipad-authenticate.plist', { UDID: udid, SerialNumber: undefined }, { identity: genuine });
    await ok(t, 'ipad-token-update.plist', { UDID: udid }, { identity: genuine });
    const attacker = await issueIdentity(t.signer.ca, { commonName: 'attacker', subjectSerialNumber: 'ATTACKER02' });
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: udid, SerialNumber: 'ATTACKER02' }),
      { identity: attacker },
      403,
      /does not name the device's UDID or serial number/,
    );
    await ok(t, 'ipad-token-update.plist', { UDID: udid }, { identity: genuine });
  });

  it('udid-or-serial: either name will do, and nothing else', async () => {
    const t = eitherApp;
    assert.ok(t.signer);
    const byUdid = newUdid();
    await enroll(t, byUdid, await issueIdentity(t.signer.ca, { commonName: byUdid }));
    const bySerial = newUdid();
    await enroll(
      t,
      bySerial,
      await issueIdentity(t.signer.ca, {
        commonName: 'Device',
        subjectAltNames: [{ type: 'dns', value: 'SERIAL0042' }],
      }),
      'SERIAL0042',
    );
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: newUdid(), SerialNumber: 'SERIAL0043' }),
      {
        identity: await issueIdentity(t.signer.ca, {
          commonName: 'Device',
          subjectAltNames: [{ type: 'email', value: 'a@b.example' }],
        }),
      },
      403,
      /does not name the device's UDID or serial number/,
    );
  });
});

describe('certificate bindings: retroactive binding commits with the message', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ DEVICE_CERT_BIND_RETRO: 'true' });
  });
  after(async () => {
    await t.dataSource.query('DROP TRIGGER IF EXISTS race_bind');
    await t.close();
  });

  it('binds a migrated device and writes the message in one transaction', async () => {
    assert.ok(t.signer);
    const udid = newUdid();
    const identity = await t.signer.identityFor(udid);
    await enroll(t, udid, identity);
    // A device migrated from another server: its records exist, its binding does not.
    await t.dataSource.query('DELETE FROM certificate_bindings WHERE device_id = ?', [udid]);
    const logFrom = t.logs.lines.length;
    await ok(t, 'ipad-token-update.plist', { UDID: udid, PushMagic: 'AFTER-MIGRATION' }, { identity });
    const [line] = bindingLogs(t, logFrom);
    assert.ok(line);
    assert.equal(line.newFingerprint, fp(identity));
    assert.deepEqual(line.oldFingerprints, []);
    assert.deepEqual(
      (await certificates(t, udid)).map((c) => c.fingerprint),
      [fp(identity)],
    );
  });

  it('a binding that fails after the handler wrote rolls the handler back too: 403 and nothing changed', async () => {
    assert.ok(t.signer);
    const other = newUdid();
    await enroll(t, other, await t.signer.identityFor(other));
    const udid = newUdid();
    const identity = await t.signer.identityFor(udid);
    await enroll(t, udid, identity);
    await t.dataSource.query('DELETE FROM certificate_bindings WHERE device_id = ?', [udid]);
    // Another device binds the same certificate while the handler runs: a trigger on the
    // handler's own write plays that racing request, inside the same transaction.
    const insertRace =
      'INSERT INTO certificate_bindings (fingerprint, device_id, subject, not_after, bound_at) ' +
      `VALUES ('${fp(identity)}', '${other}', 'CN=race', '2099-01-01 00:00:00', '2026-01-01 00:00:00')`;
    await t.dataSource.query(
      testDriver() === 'sqlite'
        ? `CREATE TRIGGER race_bind AFTER UPDATE ON enrollments WHEN NEW.id = '${udid}' BEGIN ${insertRace}; END`
        : `CREATE TRIGGER race_bind AFTER UPDATE ON enrollments FOR EACH ROW BEGIN IF NEW.id = '${udid}' THEN ${insertRace}; END IF; END`,
    );
    await refused(
      t,
      xmlMessage('ipad-token-update.plist', { UDID: udid, PushMagic: 'MUST-NOT-STICK' }),
      { identity },
      403,
      /already bound to another device/,
    );
    await t.dataSource.query('DROP TRIGGER race_bind');
    const e = (await (await api(t, `/enrollments/${encodeURIComponent(udid)}`)).json()) as { pushMagic: string };
    assert.notEqual(e.pushMagic, 'MUST-NOT-STICK');
  });

  it('overlapping messages of one migrated device are never told the certificate belongs to another device', async () => {
    assert.ok(t.signer);
    const udid = newUdid();
    const identity = await t.signer.identityFor(udid);
    await enroll(t, udid, identity);
    await t.dataSource.query('DELETE FROM certificate_bindings WHERE device_id = ?', [udid]);
    // All of them find no binding before they start; the enrollment's row lock makes their
    // transactions take turns, so every one after the first meets the binding the first wrote.
    // Those that lost get 503 (send it again), never 403.
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid, PushMagic: `RACE-${i}` }), { identity }),
      ),
    );
    for (const r of replies) assert.ok(r.status === 200 || r.status === 503, `${r.status} ${r.text}`);
    assert.ok(replies.some((r) => r.status === 200));
    assert.deepEqual(
      (await certificates(t, udid)).map((c) => [c.fingerprint, c.active]),
      [[fp(identity), true]],
    );
    await ok(t, 'ipad-token-update.plist', { UDID: udid }, { identity });
  });
});

describe('certificate bindings: the migration carries existing bindings over', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('a one-per-device binding becomes an active row of the history', async () => {
    assert.ok(t.signer);
    const udid = newUdid();
    const identity = await t.signer.identityFor(udid);
    await enroll(t, udid, identity);
    const [row] = await t.dataSource.query<{ bound_at: unknown }[]>(
      'SELECT bound_at FROM certificate_bindings WHERE device_id = ?',
      [udid],
    );
    assert.ok(row);
    // Revert this migration (and any that came after it), then apply them all again.
    const ours = t.dataSource.migrations.findIndex((m) => m.name === 'CertificateBindingHistory1764300000000');
    assert.ok(ours >= 0);
    for (let i = ours; i < t.dataSource.migrations.length; i++) {
      await t.dataSource.undoLastMigration({ transaction: 'each' });
    }
    const old = await t.dataSource.query<{ fingerprint: string; updated_at: unknown }[]>(
      'SELECT fingerprint, updated_at FROM certificate_bindings WHERE device_id = ?',
      [udid],
    );
    assert.equal(old[0]?.fingerprint, fp(identity));
    await t.dataSource.runMigrations({ transaction: 'each' });
    const certs = await certificates(t, udid);
    assert.deepEqual(
      certs.map((c) => [c.fingerprint, c.active, c.revokedAt]),
      [[fp(identity), true, null]],
    );
    const [again] = await t.dataSource.query<{ bound_at: unknown }[]>(
      'SELECT bound_at FROM certificate_bindings WHERE device_id = ?',
      [udid],
    );
    assert.deepEqual(again?.bound_at, row.bound_at);
    await ok(t, 'ipad-token-update.plist', { UDID: udid }, { identity });
  });
});
