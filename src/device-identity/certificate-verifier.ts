import { createHash, X509Certificate } from 'node:crypto';
import { certificateNames } from './certificate-names.js';

/** A device identity certificate that chains to a configured CA and is valid now. */
export interface VerifiedCertificate {
  /** SHA-256 of the DER, lower-case hex: the key of a binding. */
  readonly fingerprint: string;
  readonly subject: string;
  readonly notAfter: Date;
  /** The names the certificate gives its subject (see certificateNames), for DEVICE_CERT_MATCH. */
  readonly names: readonly string[];
}

/**
 * Why an identity was refused, as a short fixed code: the log line's `identityRefusal` and the
 * `reason` label of `mdm_checkin_identity_refusals_total` (a bounded set, unlike the message).
 */
export const IDENTITY_REFUSAL_REASONS = [
  /** No Mdm-Signature, or no certificate header from the proxy. */
  'proof_missing',
  /** The signature or the certificate header is malformed or does not verify. */
  'proof_invalid',
  /** Not from a configured CA, a CA's own certificate, or not for client authentication. */
  'certificate_untrusted',
  /** The certificate (or one of its chain) is expired or not valid yet. */
  'certificate_expired',
  /** The device has certificates bound and this is not one of them, or it has none. */
  'certificate_not_bound',
  /** The certificate was revoked for this device. */
  'certificate_revoked',
  /** The certificate is bound to another device. */
  'certificate_other_device',
  /** The certificate does not name the device as DEVICE_CERT_MATCH asks. */
  'certificate_name_mismatch',
] as const;
export type IdentityRefusalReason = (typeof IDENTITY_REFUSAL_REASONS)[number];

/**
 * Why an identity was refused. 400: the proof is malformed or does not verify (garbage
 * header, tampered body). 403: the certificate is well formed but not allowed (unknown CA,
 * expired, wrong usage, bound to another device). Never 401.
 */
export class IdentityError extends Error {
  readonly reason: IdentityRefusalReason;

  constructor(
    readonly status: 400 | 403,
    message: string,
    reason?: IdentityRefusalReason,
  ) {
    super(message);
    this.name = 'IdentityError';
    this.reason = reason ?? (status === 400 ? 'proof_invalid' : 'certificate_untrusted');
  }
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** Verified leaf certificates remembered (one per device), so a device's next message skips the chain check. */
const CACHE_LIMIT = 150_000;
const ANY_EKU = '2.5.29.37.0';
const MAX_CHAIN = 8;

export function fingerprintOf(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Splits a PEM bundle into certificates. */
export function parsePemBundle(pem: string, source: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${source} holds no PEM certificate`);
  return blocks.map((b) => new X509Certificate(b));
}

/**
 * Chain and validity checks with Node's own X.509 implementation: the leaf must chain
 * through intermediates (configured, or carried in the signature) to a configured CA, every
 * certificate must be within its validity period give or take the allowed clock skew (devices
 * with drifting clocks are common), intermediates must be CAs, and the leaf must be usable for
 * client authentication when it restricts its extended key usage.
 */
export class CertificateVerifier {
  private readonly skewMs: number;
  /**
   * fingerprint → the verified result and the window in which the whole chain is valid.
   * Chain building and signature checks are pure functions of the certificate and the
   * configured CAs, so they are done once per certificate; validity is re-checked every time.
   */
  private readonly cache = new Map<string, { result: VerifiedCertificate; from: number; to: number }>();

  constructor(
    private readonly anchors: readonly X509Certificate[],
    private readonly intermediates: readonly X509Certificate[],
    skewSeconds: number,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.skewMs = skewSeconds * 1000;
  }

  verify(leafDer: Buffer, carried: readonly X509Certificate[] = []): VerifiedCertificate {
    const fingerprint = fingerprintOf(leafDer);
    const now = this.now().getTime();
    const cached = this.cache.get(fingerprint);
    if (cached !== undefined) {
      if (now + this.skewMs < cached.from)
        throw new IdentityError(403, 'the device certificate is not valid yet', 'certificate_expired');
      if (now - this.skewMs > cached.to) {
        this.cache.delete(fingerprint);
        throw new IdentityError(403, 'the device certificate has expired', 'certificate_expired');
      }
      return cached.result;
    }
    const { result, from, to } = this.verifyChain(leafDer, fingerprint, carried, now);
    if (this.cache.size >= CACHE_LIMIT) {
      // Forget the oldest entry (Map keeps insertion order).
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(fingerprint, { result, from, to });
    return result;
  }

  private verifyChain(
    leafDer: Buffer,
    fingerprint: string,
    carried: readonly X509Certificate[],
    now: number,
  ): { result: VerifiedCertificate; from: number; to: number } {
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(leafDer);
    } catch {
      throw new IdentityError(400, 'the device certificate cannot be parsed');
    }
    // A CA's own certificate (a configured anchor, or anything with basicConstraints CA=true)
    // would otherwise verify against itself; it names no device and must never act as one.
    if (leaf.ca || this.anchors.some((a) => a.raw.equals(leaf.raw))) {
      throw new IdentityError(403, 'a CA certificate is not a device identity');
    }
    this.checkValidity(leaf, now, 'device certificate');
    let from = new Date(leaf.validFrom).getTime();
    let to = new Date(leaf.validTo).getTime();
    const window = (c: X509Certificate): void => {
      from = Math.max(from, new Date(c.validFrom).getTime());
      to = Math.min(to, new Date(c.validTo).getTime());
    };
    const eku = leaf.keyUsage as string[] | undefined;
    if (eku !== undefined && eku.length > 0 && !eku.includes(CLIENT_AUTH) && !eku.includes(ANY_EKU)) {
      throw new IdentityError(403, 'the device certificate is not valid for client authentication');
    }

    let current = leaf;
    for (let depth = 0; depth < MAX_CHAIN; depth++) {
      const anchor = this.anchors.find((a) => issuedBy(current, a));
      if (anchor !== undefined) {
        this.checkValidity(anchor, now, 'CA certificate');
        window(anchor);
        return {
          result: {
            fingerprint,
            subject: leaf.subject.replace(/\n/g, ', '),
            notAfter: new Date(leaf.validTo),
            names: certificateNames(leaf),
          },
          from,
          to,
        };
      }
      const next = [...this.intermediates, ...carried].find(
        (c) => c.ca && c.raw.compare(current.raw) !== 0 && issuedBy(current, c),
      );
      if (next === undefined) break;
      this.checkValidity(next, now, 'intermediate certificate');
      window(next);
      current = next;
    }
    throw new IdentityError(403, 'the device certificate does not chain to a configured CA');
  }

  private checkValidity(cert: X509Certificate, now: number, what: string): void {
    const from = new Date(cert.validFrom).getTime();
    const to = new Date(cert.validTo).getTime();
    if (now + this.skewMs < from) throw new IdentityError(403, `the ${what} is not valid yet`, 'certificate_expired');
    if (now - this.skewMs > to) throw new IdentityError(403, `the ${what} has expired`, 'certificate_expired');
  }
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
