// Mdm-Signature values for the benchmark, made the way a device makes them and before the timed
// part: a detached CMS SignedData over the body, SHA-256 with RSA (PKCS #1 v1.5), signed
// attributes (content type, signing time, message digest), the device certificate embedded, and
// the outer levels in BER with indefinite lengths, as devices send it. Built byte by byte with
// node:crypto (~1 ms per RSA-2048 signature) instead of PKI.js (several ms), so 100,000 devices
// can be signed for in minutes.
import { createHash, sign } from 'node:crypto';

const OID = {
  signedData: '06092a864886f70d010702',
  data: '06092a864886f70d010701',
  contentType: '06092a864886f70d010903',
  messageDigest: '06092a864886f70d010904',
  signingTime: '06092a864886f70d010905',
  sha256: '0609608648016503040201',
  rsaEncryption: '06092a864886f70d010101',
};

function derLength(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag, ...parts) => {
  const content = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
};
/** A constructed element with an indefinite length and its end-of-contents marker. */
const indefinite = (tag, ...parts) => Buffer.concat([Buffer.from([tag, 0x80]), ...parts, Buffer.from([0, 0])]);
const hex = (h) => Buffer.from(h, 'hex');
const algorithm = (oid) => tlv(0x30, hex(oid), hex('0500'));

/** The children (header offsets) of the DER element at `at`: [tag, start, end] each. */
function children(der, at) {
  const element = (pos) => {
    const tag = der[pos];
    let p = pos + 1;
    const first = der[p++];
    let length = first;
    if (first & 0x80) {
      length = 0;
      for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + der[p++];
    }
    return { tag, at: pos, start: p, end: p + length };
  };
  const parent = element(at);
  const out = [];
  for (let p = parent.start; p < parent.end;) {
    const child = element(p);
    out.push(child);
    p = child.end;
  }
  return out;
}

/** The issuer Name and serial number INTEGER of a certificate, as DER. */
function issuerAndSerial(certDer) {
  const [tbs] = children(certDer, 0);
  const fields = children(certDer, tbs.at);
  const offset = fields[0].tag === 0xa0 ? 1 : 0;
  const serial = fields[offset];
  const issuer = fields[offset + 2];
  return Buffer.concat([certDer.subarray(issuer.at, issuer.end), certDer.subarray(serial.at, serial.end)]);
}

/** UTCTime of now, as devices put in their signing-time attribute. */
function utcTime(date = new Date()) {
  const s = date.toISOString().replace(/[-:T]/g, '').slice(2, 14);
  return tlv(0x17, Buffer.from(`${s}Z`, 'latin1'));
}

/**
 * A signer for one device: `sign(body)` returns the base64 `Mdm-Signature` value of `body`,
 * signed with `privateKey` (RSA) and carrying `certDer`.
 */
export function deviceSigner(certDer, privateKey) {
  const sid = tlv(0x30, issuerAndSerial(certDer));
  const certificates = tlv(0xa0, certDer);
  return (body) => {
    const digest = createHash('sha256').update(body).digest();
    const attributes = [
      tlv(0x30, hex(OID.contentType), tlv(0x31, hex(OID.data))),
      tlv(0x30, hex(OID.signingTime), tlv(0x31, utcTime())),
      tlv(0x30, hex(OID.messageDigest), tlv(0x31, tlv(0x04, digest))),
    ];
    // The signature covers the attributes as a SET; they travel as [0] IMPLICIT.
    const signedSet = tlv(0x31, ...attributes);
    const signature = sign('sha256', signedSet, privateKey);
    const signerInfo = tlv(
      0x30,
      hex('020101'),
      sid,
      algorithm(OID.sha256),
      Buffer.concat([Buffer.from([0xa0]), signedSet.subarray(1)]),
      algorithm(OID.rsaEncryption),
      tlv(0x04, signature),
    );
    const signedData = indefinite(
      0x30,
      hex('020101'),
      tlv(0x31, algorithm(OID.sha256)),
      indefinite(0x30, hex(OID.data)),
      certificates,
      tlv(0x31, signerInfo),
    );
    return indefinite(0x30, hex(OID.signedData), indefinite(0xa0, signedData)).toString('base64');
  };
}
