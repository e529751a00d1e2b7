import 'reflect-metadata';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { X509Certificate } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import { BerLimitError, checkBerLimits } from './ber-limits.js';
import { IdentityError } from './certificate-verifier.js';

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';

/** A base64 Mdm-Signature larger than this is not a device's signature. */
export const MAX_SIGNATURE_HEADER_CHARS = 64 * 1024;

export interface SignerProof {
  /** DER of the certificate whose key made the signature. */
  readonly signerDer: Buffer;
  /** Other certificates the signature carries (possible intermediates). */
  readonly carried: X509Certificate[];
}

function arrayBufferOf(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/**
 * Verifies an `Mdm-Signature` header: base64 of a CMS SignedData whose detached signature
 * covers the exact request body. Accepts BER (indefinite lengths), SHA-1 or SHA-256, RSA or
 * ECDSA, with or without signed attributes (their message digest must match the body).
 * The structure is size- and depth-checked before the ASN.1 decoder sees it. Any failure is
 * an {@link IdentityError} with status 400.
 */
export async function verifyDetachedSignature(header: string, body: Buffer): Promise<SignerProof> {
  if (header.length > MAX_SIGNATURE_HEADER_CHARS) throw new IdentityError(400, 'the Mdm-Signature header is too large');
  const compact = header.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new IdentityError(400, 'the Mdm-Signature header is not base64');
  const der = Buffer.from(compact, 'base64');
  try {
    checkBerLimits(der);
  } catch (err) {
    if (err instanceof BerLimitError)
      throw new IdentityError(400, `the Mdm-Signature is not valid CMS: ${err.message}`);
    throw err;
  }
  let signed: pkijs.SignedData;
  try {
    const info = pkijs.ContentInfo.fromBER(arrayBufferOf(der));
    if (info.contentType !== pkijs.ContentInfo.SIGNED_DATA) throw new Error('not SignedData');
    signed = new pkijs.SignedData({ schema: info.content as asn1js.Sequence });
  } catch {
    throw new IdentityError(400, 'the Mdm-Signature is not a CMS SignedData');
  }
  if (signed.signerInfos.length !== 1) throw new IdentityError(400, 'the Mdm-Signature must have exactly one signer');
  let result: pkijs.SignedDataVerifyResult;
  try {
    result = await signed.verify({ signer: 0, data: arrayBufferOf(body), extendedMode: true, checkChain: false });
  } catch (err) {
    const reason = err instanceof pkijs.SignedDataVerifyError ? err.message : 'verification failed';
    throw new IdentityError(400, `the Mdm-Signature does not verify: ${reason}`);
  }
  if (result.signatureVerified !== true || !result.signerCertificate) {
    throw new IdentityError(400, 'the Mdm-Signature does not verify');
  }
  const signerDer = Buffer.from(result.signerCertificate.toSchema().toBER(false));
  const carried: X509Certificate[] = [];
  for (const c of signed.certificates ?? []) {
    if (!(c instanceof pkijs.Certificate)) continue;
    const bytes = Buffer.from(c.toSchema().toBER(false));
    if (bytes.equals(signerDer)) continue;
    try {
      carried.push(new X509Certificate(bytes));
    } catch {
      // An unparsable extra certificate cannot help the chain; ignore it.
    }
  }
  return { signerDer, carried };
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
