import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as pkijs from 'pkijs';
import { IdentityError } from './certificate-verifier.js';
import { certificateCacheForTests, verifyDetachedSignature } from './cms.js';
import { signDetached } from './cms-signer.js';
import { createCa, issueIdentity } from './dev-ca.js';
import type { DeviceIdentity } from './dev-ca.js';

const body = Buffer.from('<?xml version="1.0"?><plist version="1.0"><dict/></plist>');
const refused = (text: RegExp) => (err: unknown) =>
  err instanceof IdentityError && err.status === 400 && text.test(err.message);

/** Decodes a signature, lets `change` edit the SignedData, and encodes it again. */
function rewrite(signature: string, change: (signed: pkijs.SignedData) => void): string {
  const der = Buffer.from(signature, 'base64');
  const info = pkijs.ContentInfo.fromBER(der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength));
  const signed = new pkijs.SignedData({ schema: info.content });
  change(signed);
  const out = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signed.toSchema(true) });
  return Buffer.from(out.toSchema().toBER(false)).toString('base64');
}

describe('verifyDetachedSignature', () => {
  it('returns the signer certificate of a signature made by PKI.js, with and without signed attributes', async () => {
    const ca = await createCa('CMS CA');
    for (const keyType of ['rsa', 'ec'] as const) {
      for (const signedAttributes of [true, false]) {
        const id = await issueIdentity(ca, { commonName: `${keyType}-${signedAttributes}`, keyType });
        const proof = await verifyDetachedSignature(
          await signDetached(body, id.certDer, id.key, { signedAttributes }),
          body,
        );
        assert.deepEqual(proof.signerDer, id.certDer);
        assert.deepEqual(proof.carried, []);
      }
    }
  });

  it('refuses a changed body, a signature without its certificate, and a second signer', async () => {
    const ca = await createCa('CMS CA');
    const id = await issueIdentity(ca, { commonName: 'dev' });
    const signature = await signDetached(body, id.certDer, id.key);
    await assert.rejects(
      verifyDetachedSignature(signature, Buffer.concat([body, Buffer.from(' ')])),
      refused(/message digest/),
    );
    const plain = await signDetached(body, id.certDer, id.key, { signedAttributes: false });
    await assert.rejects(verifyDetachedSignature(plain, Buffer.from('other')), refused(/does not verify/));
    const noCert = rewrite(signature, (s) => {
      s.certificates = [];
    });
    await assert.rejects(
      verifyDetachedSignature(noCert, body),
      refused(/does not verify with the certificate it carries/),
    );
    const twoSigners = rewrite(signature, (s) => {
      const first = s.signerInfos[0];
      if (first !== undefined) s.signerInfos.push(first);
    });
    await assert.rejects(verifyDetachedSignature(twoSigners, body), refused(/exactly one signer/));
  });

  it('refuses a certificate that did not make the signature even when it is named as the signer', async () => {
    const ca = await createCa('CMS CA');
    const signerId = await issueIdentity(ca, { commonName: 'signer' });
    const other = await issueIdentity(ca, { commonName: 'other' });
    const signature = await signDetached(body, signerId.certDer, signerId.key);
    // Swap the carried certificate for another one of the same CA: the key does not match.
    const swapped = rewrite(signature, (s) => {
      s.certificates = [pkijs.Certificate.fromBER(new Uint8Array(other.certDer).buffer)];
    });
    await assert.rejects(verifyDetachedSignature(swapped, body), refused(/does not verify/));
  });
});

/** `haystack` with the only occurrence of `from` replaced by `to` (same length). */
function replaceOnce(haystack: Buffer, from: Buffer, to: Buffer): Buffer {
  assert.equal(from.length, to.length);
  const at = haystack.indexOf(from);
  assert.ok(at !== -1 && haystack.indexOf(from, at + 1) === -1, 'the bytes to replace occur exactly once');
  const out = Buffer.from(haystack);
  to.copy(out, at);
  return out;
}

/** A signature whose embedded certificate `from` is replaced, byte for byte, by `to`. */
function swapCertificate(signature: string, from: Buffer, to: Buffer): string {
  return replaceOnce(Buffer.from(signature, 'base64'), from, to).toString('base64');
}

/** An RSA-2048 public key's modulus and exponent as they appear in a certificate (02 82 01 01 00 …). */
function rsaModulus(der: Buffer): Buffer {
  const at = der.indexOf(Buffer.from('0282010100', 'hex'));
  assert.ok(at !== -1);
  return der.subarray(at, at + 5 + 256);
}

/** `id`'s certificate with the RSA key of `other` in it: same issuer, serial and subject, another key. */
function withKeyOf(id: DeviceIdentity, other: DeviceIdentity): Buffer {
  return replaceOnce(id.certDer, rsaModulus(id.certDer), rsaModulus(other.certDer));
}

describe('verifyDetachedSignature: the certificate cache and the lean decoder', () => {
  // Compiled specs run from .build/src/device-identity; fixtures stay in the source tree.
  const realDir = new URL('../../../test/fixtures/mdm-signature/', import.meta.url);

  it("verifies a real device's signature (SHA-1, no signed attributes, indefinite lengths) and refuses its body changed", async () => {
    const header = readFileSync(new URL('device-header.b64.txt', realDir), 'utf8').trim();
    const signed = readFileSync(new URL('device-body.plist', realDir));
    const signer = new X509Certificate(readFileSync(new URL('device-signer-cert.pem', realDir)));
    for (let round = 0; round < 2; round++) {
      // Round 2 meets the certificate in the cache.
      const proof = await verifyDetachedSignature(header, signed);
      assert.deepEqual(proof.signerDer, signer.raw);
      await assert.rejects(
        verifyDetachedSignature(header, Buffer.concat([signed, Buffer.from('\n')])),
        refused(/does not verify with the certificate/),
      );
    }
  });

  it('never takes a cached certificate for another one with the same issuer, serial number and subject', async () => {
    const ca = await createCa('CMS CA');
    const a = await issueIdentity(ca, { commonName: 'same', keyType: 'rsa' });
    const b = await issueIdentity(ca, { commonName: 'same', keyType: 'rsa' });
    const aWithKeyOfB = withKeyOf(a, b);
    for (const signedAttributes of [true, false]) {
      const byA = await signDetached(body, a.certDer, a.key, { signedAttributes });
      assert.deepEqual((await verifyDetachedSignature(byA, body)).signerDer, a.certDer); // now cached
      // A's signature carried by the look-alike certificate: its key is B's, so it does not verify.
      await assert.rejects(
        verifyDetachedSignature(swapCertificate(byA, a.certDer, aWithKeyOfB), body),
        refused(/does not verify/),
      );
      // Made with B's key and naming the look-alike (A's issuer and serial number) as its signer:
      // it verifies, and the signer is the look-alike, never the cached A.
      const byLookAlike = await signDetached(body, aWithKeyOfB, b.key, { signedAttributes });
      const proof = await verifyDetachedSignature(byLookAlike, body);
      assert.deepEqual(proof.signerDer, aWithKeyOfB);
      assert.notDeepEqual(proof.signerDer, a.certDer);
      // And A's own certificate cannot vouch for that signature.
      await assert.rejects(
        verifyDetachedSignature(swapCertificate(byLookAlike, aWithKeyOfB, a.certDer), body),
        refused(/does not verify/),
      );
    }
  });

  it('refuses a changed body and a changed signed attribute when the certificate is cached', async () => {
    const ca = await createCa('CMS CA');
    for (const keyType of ['rsa', 'ec'] as const) {
      const id = await issueIdentity(ca, { commonName: keyType, keyType });
      const signature = await signDetached(body, id.certDer, id.key);
      await verifyDetachedSignature(signature, body); // cached from here on
      const other = Buffer.from('<?xml version="1.0"?><plist version="1.0"><dict><key>X</key></dict></plist>');
      await assert.rejects(verifyDetachedSignature(signature, other), refused(/message digest/));
      // The message digest attribute rewritten to match another body: the digest check passes,
      // the signature over the attributes does not.
      const sha = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
      const forged = replaceOnce(Buffer.from(signature, 'base64'), sha(body), sha(other)).toString('base64');
      await assert.rejects(verifyDetachedSignature(forged, other), refused(/does not verify with the certificate/));
      const plain = await signDetached(body, id.certDer, id.key, { signedAttributes: false });
      await verifyDetachedSignature(plain, body);
      await assert.rejects(verifyDetachedSignature(plain, other), refused(/does not verify with the certificate/));
      // One flipped bit of the signature value.
      const raw = Buffer.from(signature, 'base64');
      const flipped = Buffer.from(raw);
      flipped[flipped.length - 10] = (flipped[flipped.length - 10] ?? 0) ^ 0x01;
      await assert.rejects(
        verifyDetachedSignature(flipped.toString('base64'), body),
        refused(/does not verify|not valid CMS/),
      );
    }
  });

  it('refuses a certificate whose public key cannot be decoded, every time (400, not a throw)', async () => {
    const ca = await createCa('CMS CA');
    const id = await issueIdentity(ca, { commonName: 'broken key', keyType: 'rsa' });
    // The modulus INTEGER re-tagged as an OCTET STRING: the certificate parses, its key does not.
    const modulus = rsaModulus(id.certDer);
    const broken = replaceOnce(id.certDer, modulus, Buffer.concat([Buffer.from([0x04]), modulus.subarray(1)]));
    assert.throws(() => new X509Certificate(broken).publicKey);
    const signature = swapCertificate(await signDetached(body, id.certDer, id.key), id.certDer, broken);
    for (let round = 0; round < 2; round++) {
      await assert.rejects(verifyDetachedSignature(signature, body), refused(/does not verify with the certificate/));
    }
  });

  it('keeps the number of remembered certificates within its limit', async () => {
    assert.ok(certificateCacheForTests.size <= certificateCacheForTests.limit);
    const ca = await createCa('CMS CA');
    const id = await issueIdentity(ca, { commonName: 'again' });
    const signature = await signDetached(body, id.certDer, id.key);
    certificateCacheForTests.clear();
    await verifyDetachedSignature(signature, body);
    await verifyDetachedSignature(signature, body);
    assert.equal(certificateCacheForTests.size, 1); // one entry per distinct certificate
  });

  it('still passes carried intermediates to the chain check, and refuses truncated or padded input', async () => {
    const ca = await createCa('CMS CA');
    const id = await issueIdentity(ca, { commonName: 'leaf' });
    const intermediate = await issueIdentity(ca, { commonName: 'intermediate' });
    const signature = rewrite(await signDetached(body, id.certDer, id.key), (s) => {
      s.certificates?.push(pkijs.Certificate.fromBER(new Uint8Array(intermediate.certDer).buffer));
    });
    for (let round = 0; round < 2; round++) {
      const proof = await verifyDetachedSignature(signature, body);
      assert.deepEqual(proof.signerDer, id.certDer);
      assert.deepEqual(
        proof.carried.map((c) => c.raw),
        [intermediate.certDer],
      );
    }
    const der = Buffer.from(signature, 'base64');
    await assert.rejects(
      verifyDetachedSignature(der.subarray(0, der.length - 1).toString('base64'), body),
      refused(/not valid CMS/),
    );
    await assert.rejects(
      verifyDetachedSignature(Buffer.concat([der, Buffer.from([0])]).toString('base64'), body),
      refused(/not valid CMS/),
    );
  });
});
