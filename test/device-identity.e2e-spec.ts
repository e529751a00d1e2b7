import 'reflect-metadata';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { signDetached } from '../src/device-identity/cms-signer.js';
import { createCa, issueIdentity } from '../src/device-identity/dev-ca.js';
import type { CertificateAuthority, DeviceIdentity } from '../src/device-identity/dev-ca.js';
import { newUdid, send, xmlMessage } from './support/device.js';
import type { SendOptions } from './support/device.js';
import { snapshot } from './support/snapshot.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';
import { createTestDatabase } from './support/test-db.js';

const DAY = 24 * 3600 * 1000;

async function deviceJson(t: TestApp, udid: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${t.url}/api/v1/devices/${encodeURIComponent(udid)}`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}

function asCa(identity: DeviceIdentity): CertificateAuthority {
  return { certPem: identity.certPem, cert: new x509.X509Certificate(identity.certPem), key: identity.key };
}

/** Expects `status`, a reason matching `reason`, never 401, and no row changed. */
async function refused(t: TestApp, body: Buffer, opts: SendOptions, status: 400 | 403, reason: RegExp): Promise<void> {
  const before = await snapshot(t.dataSource);
  const r = await send(t.url, body, opts);
  assert.equal(r.status, status, r.text);
  assert.match(r.text, reason);
  assert.deepEqual(await snapshot(t.dataSource), before);
  const line = t.logs.entries().findLast((l) => l.msg === 'checkin');
  assert.ok(line);
  assert.equal(line.status, status);
  assert.match(String(line.reason), reason);
  // The log names the enrollment the message claimed, whether refused before or after decoding.
  const claimed = /<key>UDID<\/key>\s*<string>([^<]+)<\/string>/.exec(body.toString('utf8'))?.[1];
  assert.equal(line.claimedEnrollmentId ?? line.enrollmentId, claimed);
}

describe('device identity: Mdm-Signature (the default)', () => {
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

  /** Enrolls `udid` proving `identity` with the given signature options. */
  async function enrollWith(
    identity: DeviceIdentity,
    udid: string,
    signOptions: SendOptions['signOptions'] = {},
  ): Promise<void> {
    for (const name of ['ipad-authenticate.plist', 'ipad-token-update.plist']) {
      const r = await send(t.url, xmlMessage(name, { UDID: udid }), { identity, signOptions });
      assert.equal(r.status, 200, `${name}: ${r.text}`);
    }
  }

  const variants: [string, { keyType: 'rsa' | 'ec'; hash: 'SHA-1' | 'SHA-256' }, SendOptions['signOptions']][] = [
    ['RSA, SHA-256, signed attributes', { keyType: 'rsa', hash: 'SHA-256' }, { hash: 'SHA-256' }],
    ['RSA, SHA-1, signed attributes', { keyType: 'rsa', hash: 'SHA-1' }, { hash: 'SHA-1' }],
    ['EC P-256, SHA-256, signed attributes', { keyType: 'ec', hash: 'SHA-256' }, { hash: 'SHA-256' }],
    ['EC P-256, SHA-1', { keyType: 'ec', hash: 'SHA-1' }, { hash: 'SHA-1' }],
    ['RSA, BER with indefinite lengths', { keyType: 'rsa', hash: 'SHA-256' }, { indefiniteLength: true }],
    ['EC, no signed attributes', { keyType: 'ec', hash: 'SHA-256' }, { signedAttributes: false }],
  ];
  for (const [name, key, signOptions] of variants) {
    it(`verifies ${name}`, async () => {
      const udid = newUdid();
      const identity = await issueIdentity(ca, { commonName: udid, ...key });
      await enrollWith(identity, udid, signOptions);
      const d = await deviceJson(t, udid);
      const cert = d.certificate as Record<string, unknown>;
      assert.equal(cert.subject, `CN=${udid}`);
      assert.match(String(cert.fingerprint), /^[0-9a-f]{64}$/);
      assert.equal((d.enrollments as { enabled: boolean }[])[0]?.enabled, true);
    });
  }

  it('refuses a check-in without Mdm-Signature', () =>
    refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: newUdid() }),
      { sign: false },
      400,
      /Mdm-Signature header is missing/,
    ));

  it('refuses a garbage Mdm-Signature', async () => {
    const body = xmlMessage('ipad-authenticate.plist', { UDID: newUdid() });
    await refused(t, body, { sign: false, headers: { 'mdm-signature': 'not base64 at all!' } }, 400, /not base64/);
    await refused(
      t,
      body,
      { sign: false, headers: { 'mdm-signature': Buffer.from('hello world').toString('base64') } },
      400,
      /not valid CMS|not a CMS/,
    );
    // Deeply nested BER is stopped before the ASN.1 decoder sees it.
    const deep = Buffer.concat([Buffer.from('30 80'.repeat(200).replace(/ /g, ''), 'hex'), Buffer.alloc(400)]);
    await refused(
      t,
      body,
      { sign: false, headers: { 'mdm-signature': deep.toString('base64') } },
      400,
      /nested deeper/,
    );
  });

  it('refuses a body changed after signing', async () => {
    const udid = newUdid();
    const identity = await t.signer?.identityFor(udid);
    assert.ok(identity);
    const signed = xmlMessage('ipad-authenticate.plist', { UDID: udid });
    const signature = await signDetached(signed, identity.certDer, identity.key);
    const tampered = xmlMessage('ipad-authenticate.plist', { UDID: udid, SerialNumber: 'TAMPERED01' });
    await refused(t, tampered, { sign: false, headers: { 'mdm-signature': signature } }, 400, /does not verify/);
  });

  it('refuses a signature whose certificate carries an undecodable public key (400, not 500)', async () => {
    const udid = newUdid();
    const identity = await issueIdentity(ca, { commonName: udid, keyType: 'rsa' });
    const body = xmlMessage('ipad-authenticate.plist', { UDID: udid });
    // The RSA modulus INTEGER re-tagged as an OCTET STRING inside the signature's certificate:
    // the certificate still parses, its key does not.
    const der = Buffer.from(await signDetached(body, identity.certDer, identity.key), 'base64');
    const modulus = der.indexOf(Buffer.from('0282010100', 'hex'), der.indexOf(identity.certDer));
    assert.ok(modulus !== -1);
    der[modulus] = 0x04;
    const header = der.toString('base64');
    // Twice: the second time the certificate is one the server has seen.
    for (let i = 0; i < 2; i++) {
      await refused(
        t,
        body,
        { sign: false, headers: { 'mdm-signature': header } },
        400,
        /does not verify with the certificate/,
      );
    }
  });

  it('refuses an identity from another CA', async () => {
    const otherCa = await createCa('Some Other CA');
    const udid = newUdid();
    const stranger = await issueIdentity(otherCa, { commonName: udid });
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: udid }),
      { identity: stranger },
      403,
      /does not chain to a configured CA/,
    );
  });

  it('refuses an expired and a not-yet-valid identity', async () => {
    const udid = newUdid();
    const expired = await issueIdentity(ca, {
      commonName: udid,
      notBefore: new Date(Date.now() - 400 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    await refused(t, xmlMessage('ipad-authenticate.plist', { UDID: udid }), { identity: expired }, 403, /has expired/);
    const future = await issueIdentity(ca, { commonName: udid, notBefore: new Date(Date.now() + DAY) });
    await refused(t, xmlMessage('ipad-authenticate.plist', { UDID: udid }), { identity: future }, 403, /not valid yet/);
  });

  it('allows the configured clock skew (300 s by default)', async () => {
    const udid = newUdid();
    const justExpired = await issueIdentity(ca, {
      commonName: udid,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() - 60_000),
    });
    await enrollWith(justExpired, udid);
  });

  it('refuses a certificate that is not for client authentication', async () => {
    const udid = newUdid();
    const serverOnly = await issueIdentity(ca, { commonName: udid, extendedKeyUsages: ['1.3.6.1.5.5.7.3.1'] });
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: udid }),
      { identity: serverOnly },
      403,
      /not valid for client authentication/,
    );
  });

  it('refuses a valid certificate claiming another device (spoofed UDID)', async () => {
    const victim = newUdid();
    const attacker = newUdid();
    await enrollWith(await issueIdentity(ca, { commonName: victim }), victim);
    const attackerId = await issueIdentity(ca, { commonName: attacker });
    await enrollWith(attackerId, attacker);
    // The attacker's own, valid, bound certificate, on messages that name the victim.
    await refused(
      t,
      xmlMessage('ipad-token-update.plist', { UDID: victim, PushMagic: 'HIJACK' }),
      { identity: attackerId },
      403,
      /not one of those bound/,
    );
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: victim }),
      { identity: attackerId },
      403,
      /already bound to another device/,
    );
    await refused(
      t,
      xmlMessage('checkout.plist', { UDID: victim }),
      { identity: attackerId },
      403,
      /not one of those bound/,
    );
    await refused(
      t,
      xmlMessage('mac-get-bootstrap-token.plist', { UDID: victim }),
      { identity: attackerId },
      403,
      /not one of those bound/,
    );
  });

  it('refuses a certificate reused by a second device', async () => {
    const first = newUdid();
    const shared = await issueIdentity(ca, { commonName: first });
    await enrollWith(shared, first);
    await refused(
      t,
      xmlMessage('ipad-authenticate.plist', { UDID: newUdid() }),
      { identity: shared },
      403,
      /already bound to another device/,
    );
  });

  it('adds the certificate of a re-enrollment to the bindings: the older one keeps working', async () => {
    const udid = newUdid();
    const oldId = await issueIdentity(ca, { commonName: udid });
    await enrollWith(oldId, udid);
    const before = (await deviceJson(t, udid)).certificate as Record<string, unknown>;
    const newId = await issueIdentity(ca, { commonName: udid, keyType: 'rsa' });
    await enrollWith(newId, udid);
    const d = await deviceJson(t, udid);
    // `certificate` is the newest active one; `certificates` holds both, both active.
    assert.notEqual((d.certificate as Record<string, unknown>).fingerprint, before.fingerprint);
    const all = d.certificates as { fingerprint: string; active: boolean }[];
    assert.deepEqual(
      all.map((c) => c.active),
      [true, true],
    );
    assert.equal(all[0]?.fingerprint, before.fingerprint);
    const r = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }), { identity: oldId });
    assert.equal(r.status, 200, r.text);
  });

  it('accepts intermediates, configured or carried in the signature', async () => {
    // The default CA signs an intermediate; identities issued by the intermediate chain through it.
    const inter = asCa(await issueIdentity(ca, { commonName: 'Device Issuing CA', ca: true }));
    const udid = newUdid();
    const identity = await issueIdentity(inter, { commonName: udid });
    // Without the intermediate anywhere, the chain is incomplete.
    await refused(t, xmlMessage('ipad-authenticate.plist', { UDID: udid }), { identity }, 403, /does not chain/);
    // With it in the signature's certificate set, the chain completes.
    const body = xmlMessage('ipad-authenticate.plist', { UDID: udid });
    const withChain = await signWithChain(body, identity, inter);
    const r = await send(t.url, body, { sign: false, headers: { 'mdm-signature': withChain } });
    assert.equal(r.status, 200, r.text);
  });
});

/** A detached signature whose certificate set also carries the issuing intermediate. */
async function signWithChain(
  body: Buffer,
  identity: DeviceIdentity,
  intermediate: CertificateAuthority,
): Promise<string> {
  const pkijs = await import('pkijs');
  const base = Buffer.from(await signDetached(body, identity.certDer, identity.key), 'base64');
  const info = pkijs.ContentInfo.fromBER(base.buffer.slice(base.byteOffset, base.byteOffset + base.byteLength));
  const signed = new pkijs.SignedData({ schema: info.content });
  const raw = Buffer.from(intermediate.cert.rawData);
  signed.certificates?.push(
    pkijs.Certificate.fromBER(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
  );
  const out = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signed.toSchema(true) });
  return Buffer.from(out.toSchema().toBER(false)).toString('base64');
}

describe('device identity: configured CA file, intermediates file and retroactive binding', () => {
  let t: TestApp;
  let root: CertificateAuthority;
  let issuing: CertificateAuthority;
  before(async () => {
    const db = await createTestDatabase();
    root = await createCa('Example Corp Device Root');
    issuing = asCa(await issueIdentity(root, { commonName: 'Example Corp Device Issuing CA', ca: true }));
    writeFileSync(join(db.dataDir, 'ca.pem'), root.certPem);
    writeFileSync(join(db.dataDir, 'intermediates.pem'), issuing.certPem);
    t = await startTestApp(
      {
        DEVICE_CA_FILE: join(db.dataDir, 'ca.pem'),
        DEVICE_INTERMEDIATES_FILE: join(db.dataDir, 'intermediates.pem'),
        DEVICE_CERT_BIND_RETRO: 'true',
      },
      undefined,
      { ca: issuing },
    );
    // startTestApp made its own database; this one is unused.
    await db.drop();
  });
  after(async () => {
    await t.close();
  });

  it('verifies identities issued by the configured intermediate', async () => {
    const udid = newUdid();
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }))).status, 200);
    assert.equal((await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }))).status, 200);
  });

  it('binds retroactively a device migrated without a binding, and never overwrites one', async () => {
    const udid = newUdid();
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }))).status, 200);
    // Simulate a device migrated from another server: its records exist, its binding does not.
    await t.dataSource.query('DELETE FROM certificate_bindings WHERE device_id = ?', [udid]);
    assert.equal((await deviceJson(t, udid)).certificate, null);
    const r = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }));
    assert.equal(r.status, 200, r.text);
    const bound = (await deviceJson(t, udid)).certificate as Record<string, unknown>;
    assert.equal(bound.subject, `CN=${udid}`);
    // Another valid certificate cannot take it over afterwards.
    const other = await issueIdentity(issuing, { commonName: 'someone else' });
    await refused(
      t,
      xmlMessage('ipad-token-update.plist', { UDID: udid }),
      { identity: other },
      403,
      /not one of those bound/,
    );
  });
});

describe('device identity without retroactive binding', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('refuses messages from an enrolled device with no binding', async () => {
    const udid = newUdid();
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }))).status, 200);
    await t.dataSource.query('DELETE FROM certificate_bindings WHERE device_id = ?', [udid]);
    await refused(t, xmlMessage('ipad-token-update.plist', { UDID: udid }), {}, 403, /no certificate is bound/);
  });
});

describe('device identity: certificate from a trusted proxy header', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ DEVICE_AUTH: 'header', DEVICE_CERT_HEADER: 'X-Client-Cert' });
  });
  after(async () => {
    await t.close();
  });

  it('accepts RFC 9440 (:base64:) and nginx URL-escaped PEM', async () => {
    const udid = newUdid();
    const identity = await t.signer?.identityFor(udid);
    assert.ok(identity);
    const rfc = `:${identity.certDer.toString('base64')}:`;
    const nginx = encodeURIComponent(identity.certPem);
    let r = await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }), {
      sign: false,
      headers: { 'x-client-cert': rfc },
    });
    assert.equal(r.status, 200, r.text);
    r = await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }), {
      sign: false,
      headers: { 'x-client-cert': nginx },
    });
    assert.equal(r.status, 200, r.text);
  });

  it('refuses a missing or garbage header, another CA, and a spoofed UDID', async () => {
    const body = xmlMessage('ipad-authenticate.plist', { UDID: newUdid() });
    await refused(t, body, { sign: false }, 400, /X-Client-Cert header|x-client-cert header/i);
    await refused(t, body, { sign: false, headers: { 'x-client-cert': 'garbage' } }, 400, /neither RFC 9440/);
    await refused(t, body, { sign: false, headers: { 'x-client-cert': ':AAAA:' } }, 400, /cannot be parsed/);
    const stranger = await issueIdentity(await createCa('Elsewhere'), { commonName: 'x' });
    await refused(
      t,
      body,
      { sign: false, headers: { 'x-client-cert': `:${stranger.certDer.toString('base64')}:` } },
      403,
      /does not chain/,
    );

    const victim = newUdid();
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: victim }))).status, 200);
    const attacker = await t.signer?.identityFor(newUdid());
    assert.ok(attacker);
    await refused(
      t,
      xmlMessage('ipad-token-update.plist', { UDID: victim }),
      { identity: attacker },
      403,
      /not one of those bound/,
    );
  });
});

describe('DEVICE_AUTH=none', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ DEVICE_AUTH: 'none' });
  });
  after(async () => {
    await t.close();
  });

  it('warns loudly at start-up and accepts unsigned check-ins', async () => {
    assert.ok(t.logs.entries().some((l) => l.level === 'warn' && /NOT authenticated/.test(String(l.msg))));
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: newUdid() }))).status, 200);
  });
});
