import 'reflect-metadata';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { CertificateVerifier, IdentityError } from './certificate-verifier.js';
import { createCa, issueIdentity } from './dev-ca.js';

const DAY = 24 * 3600 * 1000;
const refusedWith = (status: number, text: RegExp) => (err: unknown) =>
  err instanceof IdentityError && err.status === status && text.test(err.message);

describe('CertificateVerifier', () => {
  it('verifies a chain once, then re-checks only validity for the same certificate', async () => {
    const ca = await createCa('Unit CA');
    const start = Date.now();
    const leaf = await issueIdentity(ca, {
      commonName: 'dev',
      notBefore: new Date(start - DAY),
      notAfter: new Date(start + DAY),
    });
    let now = start;
    const verifier = new CertificateVerifier([new X509Certificate(ca.certPem)], [], 60, () => new Date(now));
    const first = verifier.verify(leaf.certDer);
    assert.equal(first.subject, 'CN=dev');
    assert.equal(verifier.verify(leaf.certDer), first, 'the second verification comes from the cache');
    now = start + DAY + 30_000; // within the 60 s skew
    assert.equal(verifier.verify(leaf.certDer), first);
    now = start + DAY + 120_000;
    assert.throws(() => verifier.verify(leaf.certDer), refusedWith(403, /has expired/));
    // Expiry of the chain is seen as well: a fresh verifier at that time refuses too.
    const later = new CertificateVerifier([new X509Certificate(ca.certPem)], [], 60, () => new Date(now));
    assert.throws(() => later.verify(leaf.certDer), refusedWith(403, /has expired/));
  });

  it('refuses an unknown CA, a non-certificate, and a missing intermediate', async () => {
    const ca = await createCa('Unit CA');
    const other = await createCa('Other CA');
    const verifier = new CertificateVerifier([new X509Certificate(ca.certPem)], [], 0);
    const stranger = await issueIdentity(other, { commonName: 'x' });
    assert.throws(() => verifier.verify(stranger.certDer), refusedWith(403, /does not chain/));
    assert.throws(() => verifier.verify(Buffer.from('not a certificate')), refusedWith(400, /cannot be parsed/));
    const interIdentity = await issueIdentity(ca, { commonName: 'Issuing CA', ca: true });
    const { X509Certificate: PeculiarCert } = await import('@peculiar/x509');
    const inter = {
      certPem: interIdentity.certPem,
      cert: new PeculiarCert(interIdentity.certPem),
      key: interIdentity.key,
    };
    const leaf = await issueIdentity(inter, { commonName: 'leaf' });
    assert.throws(() => verifier.verify(leaf.certDer), refusedWith(403, /does not chain/));
    assert.equal(verifier.verify(leaf.certDer, [new X509Certificate(interIdentity.certPem)]).subject, 'CN=leaf');
    const configured = new CertificateVerifier(
      [new X509Certificate(ca.certPem)],
      [new X509Certificate(interIdentity.certPem)],
      0,
    );
    assert.equal(configured.verify(leaf.certDer).subject, 'CN=leaf');
  });
});
