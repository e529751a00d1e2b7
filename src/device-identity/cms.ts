import { createHash, createPublicKey, verify, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { BerLimitError, checkBerLimits } from './ber-limits.js';
import {
  BerReadError,
  bytesOf,
  childrenOf,
  contentOf,
  isContextTag,
  octetStringOf,
  oidOf,
  readElement,
  TAG,
} from './ber-reader.js';
import type { BerElement } from './ber-reader.js';
import { LruCache } from './lru-cache.js';
import { IdentityError } from './certificate-verifier.js';

export const OID_DATA = '1.2.840.113549.1.7.1';
export const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
export const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';

/** A base64 Mdm-Signature larger than this is not a device's signature. */
export const MAX_SIGNATURE_HEADER_CHARS = 64 * 1024;

export interface SignerProof {
  /** DER of the certificate whose key made the signature (a view into the decoded header). */
  readonly signerDer: Buffer;
  /** Other certificates the signature carries (possible intermediates). */
  readonly carried: X509Certificate[];
}

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';

/** CMS digest algorithms → node:crypto hash names. */
const DIGESTS: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Signature algorithms a device may name, with the hash each implies (null: the digest algorithm's). */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, string | null>> = {
  '1.2.840.113549.1.1.1': null, // rsaEncryption
  '1.2.840.113549.1.1.5': 'sha1', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.2.1': null, // id-ecPublicKey
  '1.2.840.10045.4.1': 'sha1', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

const invalid = (why: string): IdentityError => new IdentityError(400, `the Mdm-Signature is not valid CMS: ${why}`);

/**
 * What the signature check needs from an embedded certificate, worked out once per distinct
 * certificate: OpenSSL 3 spends 100–170 µs decoding a certificate or an SPKI public key, several
 * times the cost of the RSA verification itself. Everything here is a function of the
 * certificate's bytes alone, so an entry found by the SHA-256 of those bytes is exactly what
 * parsing them again would give; nothing about trust (chain, validity, binding) is cached here.
 */
interface CertificateFacts {
  /** issuer Name DER (latin1) and serial number contents (hex), to match an IssuerAndSerialNumber. */
  readonly issuer: string;
  readonly serial: string;
  /** The subject public key; null when it cannot be decoded (such a certificate never verifies). */
  readonly key: KeyObject | null;
  /** The parsed certificate, made only when it is carried beside the signer (an intermediate). */
  x509?: X509Certificate | null;
}

/**
 * Distinct certificates remembered. A hit saves ~20 µs (RSA) to ~120 µs (EC) per message; an
 * entry holds an OpenSSL key, ~4 KB of native memory once used (outside the V8 heap, so outside
 * --max-old-space-size): ~20 MB when full. The devices checking in most recently are the ones
 * that check in again soon (enrolment sends several messages in a row; a storm repeats); a
 * larger fleet still verifies correctly, at the miss cost.
 */
export const CERTIFICATE_CACHE_LIMIT = 5_000;

/** SHA-256 of a certificate's DER → its facts (null: its structure cannot be read). */
const certificateCache = new LruCache<string, CertificateFacts | null>(CERTIFICATE_CACHE_LIMIT);

/** For tests: the cache of certificate facts. */
export const certificateCacheForTests: Pick<LruCache<string, unknown>, 'size' | 'clear' | 'limit'> = certificateCache;

/** The facts of the certificate `bytes`, or null when its structure cannot be read. */
function factsOf(bytes: Buffer): CertificateFacts | null {
  const hash = createHash('sha256').update(bytes).digest('base64');
  let facts = certificateCache.get(hash);
  if (facts === undefined) {
    facts = readCertificate(bytes);
    certificateCache.set(hash, facts);
  }
  return facts;
}

function readCertificate(bytes: Buffer): CertificateFacts | null {
  try {
    const cert = readElement(bytes, 0, bytes.length);
    if (cert.tag !== TAG.SEQUENCE || cert.next !== bytes.length) return null;
    const [tbsElement] = childrenOf(bytes, cert);
    if (tbsElement?.tag !== TAG.SEQUENCE) return null;
    const tbs = childrenOf(bytes, tbsElement);
    const offset = isContextTag(tbs[0], 0) ? 1 : 0; // [0] EXPLICIT version is optional
    const serial = tbs[offset];
    const issuer = tbs[offset + 2];
    const spki = tbs[offset + 5];
    if (serial?.tag !== TAG.INTEGER || issuer?.tag !== TAG.SEQUENCE || spki?.tag !== TAG.SEQUENCE) return null;
    return {
      issuer: bytesOf(bytes, issuer).toString('latin1'),
      serial: contentOf(bytes, serial).toString('hex'),
      key: publicKeyOf(bytes, spki),
    };
  } catch (err) {
    if (err instanceof BerReadError) return null;
    throw err;
  }
}

/**
 * The key of a SubjectPublicKeyInfo. An RSA key is imported from its PKCS #1 form (the BIT
 * STRING's contents): the same key, about ten times cheaper than OpenSSL 3's SPKI decoder.
 */
function publicKeyOf(bytes: Buffer, spki: BerElement): KeyObject | null {
  try {
    const [algorithm, bits] = childrenOf(bytes, spki);
    if (algorithm?.tag === TAG.SEQUENCE && bits?.tag === TAG.BIT_STRING && bits.end > bits.start) {
      const [algorithmOid, parameters] = childrenOf(bytes, algorithm);
      const rsa =
        oidOf(bytes, algorithmOid) === OID_RSA_ENCRYPTION &&
        (parameters === undefined || (parameters.tag === TAG.NULL && parameters.end === parameters.start)) &&
        bytes[bits.start] === 0; // no unused bits
      if (rsa) return createPublicKey({ key: bytes.subarray(bits.start + 1, bits.end), format: 'der', type: 'pkcs1' });
    }
    return createPublicKey({ key: bytesOf(bytes, spki), format: 'der', type: 'spki' });
  } catch {
    return null; // undecodable or unsupported: this certificate cannot have made the signature
  }
}

/** A certificate carried beside the signer, parsed (once) for the chain check. */
function carriedX509(facts: CertificateFacts | null, bytes: Buffer): X509Certificate | null {
  if (facts === null) return parseX509(bytes);
  if (facts.x509 === undefined) facts.x509 = parseX509(bytes);
  return facts.x509;
}

function parseX509(bytes: Buffer): X509Certificate | null {
  try {
    return new X509Certificate(bytes);
  } catch {
    return null; // an unparsable extra certificate cannot help
  }
}

/**
 * Verifies an `Mdm-Signature` header: base64 of a CMS SignedData (RFC 5652) whose detached
 * signature covers the exact request body. Accepts BER (indefinite lengths), SHA-1/256/384/512,
 * RSA (PKCS #1 v1.5) or ECDSA keys, with or without signed attributes (whose message digest
 * must then match the body, and which are verified in their original encoding with the SET
 * tag, as RFC 5652 §5.4 says). The structure is size- and depth-checked before it is read
 * (ber-limits.ts), then only the fields the check needs are read, in place (ber-reader.ts); the
 * signature itself is checked with node:crypto. Any failure is a 400 {@link IdentityError}.
 */
export function verifyDetachedSignature(header: string, body: Buffer): Promise<SignerProof> {
  // A failure rejects the promise (a throw in the executor), as callers of a Promise expect.
  return new Promise((resolve) => resolve(verifyDetachedSignatureSync(header, body)));
}

function verifyDetachedSignatureSync(header: string, body: Buffer): SignerProof {
  if (header.length > MAX_SIGNATURE_HEADER_CHARS) throw new IdentityError(400, 'the Mdm-Signature header is too large');
  const compact = header.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new IdentityError(400, 'the Mdm-Signature header is not base64');
  const der = Buffer.from(compact, 'base64');
  try {
    checkBerLimits(der);
    return verifySignedData(der, body);
  } catch (err) {
    if (err instanceof BerLimitError) throw invalid(err.message);
    if (err instanceof BerReadError) throw invalid('it cannot be decoded');
    throw err;
  }
}

function verifySignedData(der: Buffer, body: Buffer): SignerProof {
  const children = (el: BerElement | undefined, what: string): BerElement[] => {
    if (el === undefined || !el.constructed) throw invalid(`${what} is not a constructed element`);
    return childrenOf(der, el);
  };
  const oid = (el: BerElement | undefined, what: string): string => {
    const value = oidOf(der, el);
    if (value === undefined) throw invalid(`${what} is not an object identifier`);
    return value;
  };
  const octets = (el: BerElement | undefined, what: string): Buffer => {
    const value = el === undefined ? undefined : octetStringOf(der, el);
    if (value === undefined) throw invalid(`${what} is not an octet string`);
    return value;
  };
  const algorithm = (el: BerElement | undefined, what: string): string => oid(children(el, what)[0], what);

  const contentInfo = children(readElement(der, 0, der.length), 'ContentInfo');
  if (oid(contentInfo[0], 'the content type') !== OID_SIGNED_DATA || !isContextTag(contentInfo[1], 0)) {
    throw new IdentityError(400, 'the Mdm-Signature is not a CMS SignedData');
  }
  const signedData = children(children(contentInfo[1], 'the content')[0], 'SignedData');
  // version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos
  const encap = children(signedData[2], 'encapContentInfo');
  const eContentType = oid(encap[0], 'the encapsulated content type');
  let index = 3;
  const certificates: BerElement[] = [];
  if (isContextTag(signedData[index], 0)) certificates.push(...children(signedData[index++], 'certificates'));
  if (isContextTag(signedData[index], 1)) index++;
  const signerInfos = children(signedData[index], 'signerInfos');
  if (signerInfos.length !== 1 || signerInfos[0] === undefined) {
    throw new IdentityError(400, 'the Mdm-Signature must have exactly one signer');
  }

  // SignerInfo: version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature, [1] unsignedAttrs
  const signer = children(signerInfos[0], 'SignerInfo');
  const sid = signer[1];
  if (sid === undefined) throw invalid('the signer has no identifier');
  const hash = DIGESTS[algorithm(signer[2], 'the digest algorithm')];
  if (hash === undefined) throw new IdentityError(400, 'the Mdm-Signature uses an unsupported digest algorithm');
  let next = 3;
  const signedAttrs = isContextTag(signer[next], 0) ? signer[next++] : undefined;
  const signatureAlgorithm = algorithm(signer[next++], 'the signature algorithm');
  const signature = octets(signer[next], 'the signature');
  const implied = SIGNATURE_ALGORITHMS[signatureAlgorithm];
  if (implied === undefined) throw new IdentityError(400, 'the Mdm-Signature uses an unsupported signature algorithm');
  if (implied !== null && implied !== hash) throw invalid('the digest and signature algorithms disagree');

  let signedBytes: Buffer = body;
  if (signedAttrs !== undefined) {
    let digest: Buffer | undefined;
    for (const attribute of children(signedAttrs, 'the signed attributes')) {
      const [type, values] = children(attribute, 'a signed attribute');
      const typeOid = oid(type, 'a signed attribute type');
      const value = children(values, 'a signed attribute value')[0];
      if (typeOid === OID_MESSAGE_DIGEST) digest = octets(value, 'the message digest');
      if (typeOid === OID_CONTENT_TYPE && oid(value, 'the content-type attribute') !== eContentType) {
        throw invalid('the content-type attribute does not match');
      }
    }
    if (digest === undefined) throw invalid('the signed attributes have no message digest');
    if (!digest.equals(createHash(hash).update(body).digest())) {
      throw new IdentityError(400, "the Mdm-Signature does not verify: the message digest doesn't match the body");
    }
    // The signature covers the attributes in their encoding but with the SET OF tag, not [0]
    // IMPLICIT: a copy of these few hundred bytes, the only one made.
    signedBytes = Buffer.from(bytesOf(der, signedAttrs));
    signedBytes[0] = TAG.SET;
  }

  // The signer's certificate: by issuer and serial number, or (subject key identifier) the one whose key verifies.
  let wanted: { issuer: string; serial: string } | undefined;
  if (sid.tag === TAG.SEQUENCE) {
    const [issuer, serial] = children(sid, 'the signer identifier');
    if (issuer === undefined || serial?.tag !== TAG.INTEGER) throw invalid('the signer identifier is malformed');
    wanted = { issuer: bytesOf(der, issuer).toString('latin1'), serial: contentOf(der, serial).toString('hex') };
  }
  let signerDer: Buffer | undefined;
  const carried: X509Certificate[] = [];
  for (const cert of certificates) {
    if (cert.tag !== TAG.SEQUENCE) continue; // other CertificateChoices
    const bytes = bytesOf(der, cert);
    const facts = factsOf(bytes);
    const candidate =
      signerDer === undefined &&
      facts !== null &&
      facts.key !== null &&
      (wanted === undefined || (facts.serial === wanted.serial && facts.issuer === wanted.issuer));
    if (candidate && facts.key !== null && cryptoVerify(hash, signedBytes, facts.key, signature)) {
      signerDer = bytes; // a view into the decoded header, which lives as long as the request
    } else {
      const x509 = carriedX509(facts, bytes);
      if (x509 !== null) carried.push(x509);
    }
  }
  if (signerDer === undefined) {
    throw new IdentityError(400, 'the Mdm-Signature does not verify with the certificate it carries');
  }
  return { signerDer, carried };
}

function cryptoVerify(hash: string, data: Buffer, key: KeyObject, signature: Buffer): boolean {
  try {
    return verify(hash, data, key, signature);
  } catch {
    return false;
  }
}
