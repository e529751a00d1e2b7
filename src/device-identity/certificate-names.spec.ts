import 'reflect-metadata';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { certificateNames, namesInclude, subjectAltNames } from './certificate-names.js';
import { createCa, issueIdentity } from './dev-ca.js';

describe('certificateNames', () => {
  it('reads the CN, the subject serialNumber and DNS/URI/e-mail subjectAltNames, nothing else', async () => {
    const ca = await createCa('Names Test CA');
    const id = await issueIdentity(ca, {
      commonName: '00008120-0001',
      subjectSerialNumber: 'C02X+1',
      subjectAltNames: [
        { type: 'dns', value: 'serial,with,commas' },
        { type: 'url', value: 'urn:udid:00008120-0002' },
        { type: 'email', value: 'device@example.com' },
      ],
    });
    assert.deepEqual(certificateNames(new X509Certificate(id.certDer)), [
      '00008120-0001',
      'C02X+1',
      'serial,with,commas',
      'urn:udid:00008120-0002',
      'device@example.com',
    ]);
  });

  it("parses Node's printed subjectAltName, quoted values included, and skips other kinds", () => {
    assert.deepEqual(subjectAltNames(undefined), []);
    assert.deepEqual(subjectAltNames('DNS:a.example, IP Address:10.0.0.1, URI:urn:x'), ['a.example', 'urn:x']);
    assert.deepEqual(subjectAltNames('DNS:"a\\u002cb", email:"q\\"uote"'), ['a,b', 'q"uote']);
    assert.deepEqual(subjectAltNames('garbage without kinds'), []);
    assert.deepEqual(subjectAltNames('DirName:CN=x, O=y, DNS:after.example'), ['after.example']);
  });

  it('compares whole names, ignoring case; an empty or absent wanted name never matches', () => {
    assert.equal(namesInclude(['abc-def'], 'ABC-DEF'), true);
    assert.equal(namesInclude(['abc-def-1'], 'abc-def'), false);
    assert.equal(namesInclude([''], ''), false);
    assert.equal(namesInclude(['x'], null), false);
    assert.equal(namesInclude(['x'], undefined), false);
  });
});
