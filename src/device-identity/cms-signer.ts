// Makes Mdm-Signature values as devices do, with PKI.js: for the development tools, the
// simulator, the benchmark and the tests. The server's own check (cms.ts) never loads PKI.js or
// asn1js, so the two implementations check each other.
import 'reflect-metadata';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { webcrypto } from 'node:crypto';
import { OID_CONTENT_TYPE, OID_DATA, OID_MESSAGE_DIGEST } from './cms.js';

function arrayBufferOf(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

export type SignatureHash = 'SHA-1' | 'SHA-256';

export interface SignOptions {
  hash?: SignatureHash;
  /** Include signed attributes (content type, message digest), as devices do. Default true. */
  signedAttributes?: boolean;
  /** Re-encode the outer structure with indefinite lengths (BER), as devices do. */
  indefiniteLength?: boolean;
}

/**
 * Makes an `Mdm-Signature` value the way a device does, for the development tools, the
 * simulator and the tests: a detached CMS SignedData over `body`, carrying the certificate.
 */
export async function signDetached(
  body: Buffer,
  certDer: Buffer,
  key: webcrypto.CryptoKey,
  options: SignOptions = {},
): Promise<string> {
  const hash = options.hash ?? 'SHA-256';
  const cert = pkijs.Certificate.fromBER(arrayBufferOf(certDer));
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID_DATA }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
      }),
    ],
    certificates: [cert],
  });
  if (options.signedAttributes !== false) {
    const digest = await globalThis.crypto.subtle.digest(hash, arrayBufferOf(body));
    const signer = signed.signerInfos[0];
    if (signer === undefined) throw new Error('no signer');
    signer.signedAttrs = new pkijs.SignedAndUnsignedAttributes({
      type: 0,
      attributes: [
        new pkijs.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: OID_DATA })] }),
        new pkijs.Attribute({ type: OID_MESSAGE_DIGEST, values: [new asn1js.OctetString({ valueHex: digest })] }),
      ],
    });
  }
  await signed.sign(key, 0, hash, arrayBufferOf(body));
  const info = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signed.toSchema(true) });
  let der: Buffer = Buffer.from(info.toSchema().toBER(false));
  if (options.indefiniteLength === true) der = toIndefiniteOuter(der, 3);
  return der.toString('base64');
}

/**
 * Re-encodes the outermost `levels` constructed elements with indefinite lengths (and
 * end-of-contents markers), leaving everything inside byte-for-byte as it was, which is how
 * streaming CMS encoders (and devices) write a SignedData.
 */
export function toIndefiniteOuter(der: Buffer, levels: number): Buffer {
  const header = (at: number): { tagEnd: number; start: number; end: number; constructed: boolean } => {
    const tag = der[at] ?? 0;
    let pos = at + 1;
    const first = der[pos++] ?? 0;
    let length = first;
    if (first & 0x80) {
      length = 0;
      for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + (der[pos++] ?? 0);
    }
    return { tagEnd: at + 1, start: pos, end: pos + length, constructed: (tag & 0x20) !== 0 };
  };
  const encode = (at: number, depth: number): { bytes: Buffer; next: number } => {
    const h = header(at);
    if (!h.constructed || depth >= levels) return { bytes: der.subarray(at, h.end), next: h.end };
    const parts: Buffer[] = [der.subarray(at, h.tagEnd), Buffer.from([0x80])];
    let pos = h.start;
    while (pos < h.end) {
      const child = encode(pos, depth + 1);
      parts.push(child.bytes);
      pos = child.next;
    }
    parts.push(Buffer.from([0, 0]));
    return { bytes: Buffer.concat(parts), next: h.end };
  };
  return encode(0, 0).bytes;
}
