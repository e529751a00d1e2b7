import type { IncomingHttpHeaders } from 'node:http';
import type { X509Certificate } from 'node:crypto';
import type { DeviceAuthMode } from '../config/config.js';
import type { DeviceIdentityNamespace } from '../config/namespaces.js';
import { readCertificates } from '../config/config-files.js';
import type { AppLogger } from '../logging/app-logger.js';
import { CertificateVerifier, IdentityError, parsePemBundle } from './certificate-verifier.js';
import type { VerifiedCertificate } from './certificate-verifier.js';
import { verifyDetachedSignature } from './cms.js';
import { loadOrCreateDevCa } from './dev-ca.js';
import { certificateFromHeader } from './header-certificate.js';

export const SIGNATURE_HEADER = 'mdm-signature';

/**
 * Establishes which certificate a check-in came with, according to `DEVICE_AUTH`:
 * `signature` (the Mdm-Signature CMS over the body), `header` (a certificate a trusted proxy
 * verified and forwarded) or `none`. The certificate must chain to the configured CA(s);
 * which enrollment it may speak for is the binding's business (CertificateBindingMiddleware).
 */
export class DeviceIdentityService {
  readonly mode: DeviceAuthMode;

  constructor(
    private readonly verifier: CertificateVerifier | null,
    mode: DeviceAuthMode,
    private readonly certHeader: string,
  ) {
    this.mode = mode;
  }

  /** The verified certificate, or `null` in `none` mode. Throws {@link IdentityError}. */
  async identify(headers: IncomingHttpHeaders, body: Buffer): Promise<VerifiedCertificate | null> {
    if (this.verifier === null) return null;
    if (this.mode === 'signature') {
      const header = single(headers[SIGNATURE_HEADER]);
      if (header === undefined) {
        throw new IdentityError(
          400,
          'the Mdm-Signature header is missing (the profile must set SignMessage)',
          'proof_missing',
        );
      }
      const proof = await verifyDetachedSignature(header, body);
      return this.verifier.verify(proof.signerDer, proof.carried);
    }
    const header = single(headers[this.certHeader]);
    if (header === undefined)
      throw new IdentityError(
        400,
        `the ${this.certHeader} header with the client certificate is missing`,
        'proof_missing',
      );
    return this.verifier.verify(certificateFromHeader(header));
  }
}

function single(v: string | string[] | undefined): string | undefined {
  if (Array.isArray(v)) return v.length === 1 ? v[0] : undefined;
  return v === undefined || v === '' ? undefined : v;
}

/** Builds the service from configuration: reads the CA files, or makes the development CA. */
export async function createDeviceIdentityService(
  id: DeviceIdentityNamespace,
  logger: AppLogger,
): Promise<DeviceIdentityService> {
  if (id.mode === 'none') {
    logger.emit(
      'warn',
      'DEVICE_AUTH=none: check-ins are NOT authenticated; anyone who reaches /checkin can enroll or impersonate a device',
      {
        variable: 'DEVICE_AUTH',
      },
    );
    return new DeviceIdentityService(null, 'none', id.certHeader);
  }
  let anchors: X509Certificate[];
  if (id.caFile !== undefined) {
    anchors = readCertificates('DEVICE_CA_FILE', id.caFile);
  } else {
    const dev = await loadOrCreateDevCa(id.dataDir);
    anchors = parsePemBundle(dev.ca.certPem, 'the development CA');
    logger.emit('warn', dev.created ? 'created a development device CA' : 'using the development device CA', {
      path: dev.path,
      hint: 'issue a device identity with: npm run dev:device-cert -- --udid <UDID>; set DEVICE_CA_FILE for real devices',
    });
  }
  const intermediates =
    id.intermediatesFile === undefined ? [] : readCertificates('DEVICE_INTERMEDIATES_FILE', id.intermediatesFile);
  logger.emit('info', 'device identity verification on', {
    mode: id.mode,
    cas: anchors.map((c) => c.subject.replace(/\n/g, ', ')),
    intermediates: intermediates.length,
    clockSkewSeconds: id.clockSkewSeconds,
    ...(id.mode === 'header' ? { header: id.certHeader } : {}),
    bindRetroactively: id.bindRetroactively,
    certMatch: id.certMatch,
  });
  return new DeviceIdentityService(
    new CertificateVerifier(anchors, intermediates, id.clockSkewSeconds),
    id.mode,
    id.certHeader,
  );
}

export { IdentityError };
