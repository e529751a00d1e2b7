// Device identity certificates for the benchmark, fast: the server's own issueIdentity()
// (dist/device-identity/dev-ca.js) makes one template certificate; every further certificate
// is that template with its own serial number, subject and public key, signed by the CA with
// node:crypto. Each is a distinct, valid certificate of the CA (the first one is checked with
// Node's X509Certificate, as the server does), at a fraction of a millisecond instead of the
// ~2 ms the ASN.1 library needs per certificate. EC P-256 certificates get a fresh key each;
// RSA-2048 ones take their key from a pool (an RSA key takes ~100 ms to generate), so
// certificates are distinct but keys repeat every `rsaKeys` devices. The server never relates
// two certificates by their key (it remembers certificates by the SHA-256 of their bytes), so
// its work per device is the same as with a key per device.
import { promisify } from 'node:util';
import {
  createPrivateKey,
  generateKeyPair,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';

const ECDSA_WITH_SHA256 = Buffer.from('300a06082a8648ce3d040302', 'hex');
const NAME_WIDTH = 16;

/** DER length octets. */
function derLength(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag, content) {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

/** The TBSCertificate inside a certificate's DER (the first element of the outer SEQUENCE). */
function tbsOf(der) {
  let pos = 1;
  const first = der[pos++];
  if (first & 0x80) pos += first & 0x7f;
  const start = pos;
  pos += 1;
  const l = der[pos++];
  let length = l;
  if (l & 0x80) {
    length = 0;
    for (let i = 0; i < (l & 0x7f); i++) length = length * 256 + der[pos++];
  }
  return der.subarray(start, pos + length);
}

function indexOnce(haystack, needle, what) {
  const at = haystack.indexOf(needle);
  if (at === -1 || haystack.indexOf(needle, at + 1) !== -1) throw new Error(`template: cannot locate the ${what}`);
  return at;
}

/**
 * An issuer of benchmark device certificates from `ca` (a CertificateAuthority of dev-ca.js).
 * `issue(n)` returns the DER of the certificate of device number `n` (subject CN
 * `bench-device-<n>`); `issueWithKey(n)` also its private key (a KeyObject). `keyType` is
 * 'ec' (a key pair per certificate) or 'rsa' (RSA-2048 from a pool of `rsaKeys` key pairs).
 */
export async function fastIssuer(devCa, ca, caKeyPkcs8Der, { keyType = 'ec', rsaKeys = 128 } = {}) {
  const caKey = createPrivateKey({ key: Buffer.from(caKeyPkcs8Der), format: 'der', type: 'pkcs8' });
  const caCert = new X509Certificate(ca.certPem);
  const templateName = `bench-device-${'0'.repeat(NAME_WIDTH)}`;
  const template = await devCa.issueIdentity(ca, { commonName: templateName, keyType });
  const pool =
    keyType === 'rsa'
      ? await Promise.all(
          Array.from({ length: rsaKeys }, () => promisify(generateKeyPair)('rsa', { modulusLength: 2048 })),
        )
      : [];
  const templateTbs = Buffer.from(tbsOf(template.certDer));
  const templateSpki = new X509Certificate(template.certDer).publicKey.export({ type: 'spki', format: 'der' });
  const nameAt = indexOnce(templateTbs, Buffer.from(templateName, 'latin1'), 'subject');
  const spkiAt = indexOnce(templateTbs, templateSpki, 'public key');
  // The serial number is the INTEGER right after the [0] version field (a0 03 02 01 02); it is
  // replaced in place by random bytes of the same length (first byte 01–7f: positive, minimal).
  const serialTagAt = indexOnce(templateTbs, Buffer.from('a003020102', 'hex'), 'version') + 5;
  if (templateTbs[serialTagAt] !== 0x02 || templateTbs[serialTagAt + 1] > 20) {
    throw new Error('template: no serial number');
  }
  const serialAt = serialTagAt + 2;
  const serialLength = templateTbs[serialTagAt + 1];

  const issueWithKey = (n) => {
    const tbs = Buffer.from(templateTbs);
    const serial = randomBytes(serialLength);
    serial[0] = (serial[0] & 0x7f) | 0x01;
    serial.copy(tbs, serialAt);
    tbs.write(`bench-device-${String(n).padStart(NAME_WIDTH, '0')}`, nameAt, 'latin1');
    const { publicKey, privateKey } =
      keyType === 'rsa' ? pool[n % pool.length] : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    if (spki.length !== templateSpki.length) throw new Error('template: public keys differ in size');
    spki.copy(tbs, spkiAt);
    const signature = sign('sha256', tbs, { key: caKey, dsaEncoding: 'der' });
    const bitString = tlv(0x03, Buffer.concat([Buffer.from([0]), signature]));
    return { der: tlv(0x30, Buffer.concat([tbs, ECDSA_WITH_SHA256, bitString])), privateKey };
  };
  const issue = (n) => issueWithKey(n).der;

  const first = new X509Certificate(issue(0));
  if (
    !first.checkIssued(caCert) ||
    !first.verify(caCert.publicKey) ||
    first.subject !== 'CN=bench-device-' + '0'.repeat(NAME_WIDTH)
  ) {
    throw new Error('the benchmark certificates do not verify against the CA');
  }
  return { issue, issueWithKey };
}
