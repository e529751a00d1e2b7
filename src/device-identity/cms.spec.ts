import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as pkijs from 'pkijs';
import { IdentityError } from './certificate-verifier.js';
import { signDetached, verifyDetachedSignature } from './cms.js';
import { createCa, issueIdentity } from './dev-ca.js';

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
