import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdentityError } from './certificate-verifier.js';
import { certificateFromHeader } from './header-certificate.js';

const der = Buffer.from('3082010a0282010100c0ffee', 'hex');
const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;

describe('certificateFromHeader', () => {
  it('reads RFC 9440 :base64: and nginx URL-escaped PEM to the same DER', () => {
    assert.deepEqual(certificateFromHeader(`:${der.toString('base64')}:`), der);
    assert.deepEqual(certificateFromHeader(encodeURIComponent(pem)), der);
    assert.deepEqual(certificateFromHeader(`  ${pem}  `), der);
  });

  it('refuses anything else with a 400 IdentityError', () => {
    for (const bad of ['', 'garbage', '::', ':not base64!:', '%E0%A4%A', 'x'.repeat(40_000)]) {
      assert.throws(
        () => certificateFromHeader(bad),
        (err: unknown) => err instanceof IdentityError && err.status === 400,
        JSON.stringify(bad.slice(0, 20)),
      );
    }
  });
});
