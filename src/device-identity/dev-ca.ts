import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
const subtle = globalThis.crypto.subtle;
x509.cryptoProvider.set(globalThis.crypto);

export const DEV_CA_CERT_FILE = 'dev-ca.pem';
export const DEV_CA_KEY_FILE = 'dev-ca.key.pem';

type SelfSignedParams = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0];
type CreateParams = Parameters<typeof x509.X509CertificateGenerator.create>[0];

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface CertificateAuthority {
  readonly certPem: string;
  readonly cert: x509.X509Certificate;
  readonly key: CryptoKey;
}

export interface DeviceIdentity {
  readonly certPem: string;
  readonly certDer: Buffer;
  readonly keyPem: string;
  readonly key: CryptoKey;
}

export type KeyType = 'rsa' | 'ec';

export interface IssueOptions {
  /** Put in the subject's CN, as SCEP/ACME-issued device identities usually do. */
  readonly commonName: string;
  readonly keyType?: KeyType;
  /** The hash the device will sign messages with; RSA keys are bound to it in WebCrypto. */
  readonly hash?: 'SHA-1' | 'SHA-256';
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Extended key usages; default client authentication. */
  readonly extendedKeyUsages?: string[];
  /** subjectAltName entries, e.g. `{ type: 'url', value: 'urn:udid:...' }`. */
  readonly subjectAltNames?: { type: 'dns' | 'url' | 'email'; value: string }[];
  /** The subject's serialNumber attribute (2.5.4.5), where some CAs put the device's serial. */
  readonly subjectSerialNumber?: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64.trimEnd()}\n-----END ${label}-----\n`;
}

function fromPem(text: string, label: string): ArrayBuffer {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`).exec(text);
  if (m?.[1] === undefined) throw new Error(`no ${label} in PEM`);
  const der = Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength);
}

/** Creates a self-signed CA (EC P-256) for development and tests. */
export async function createCa(commonName: string, years = 10): Promise<CertificateAuthority> {
  const keys = await subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName}`,
    keys: keys,
    signingAlgorithm: EC_P256,
    notBefore,
    notAfter: new Date(notBefore.getTime() + years * 365 * 24 * 3600 * 1000),
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  } satisfies SelfSignedParams);
  return { certPem: cert.toString('pem'), cert, key: keys.privateKey };
}

/**
 * The development CA kept in the data folder: loaded when present, created otherwise.
 * Only for trying the service out; production refuses to start without DEVICE_CA_FILE.
 */
export async function loadOrCreateDevCa(
  dataDir: string,
): Promise<{ ca: CertificateAuthority; created: boolean; path: string }> {
  const certPath = join(dataDir, DEV_CA_CERT_FILE);
  const keyPath = join(dataDir, DEV_CA_KEY_FILE);
  if (existsSync(certPath) && existsSync(keyPath)) {
    const certPem = readFileSync(certPath, 'utf8');
    const key = await subtle.importKey('pkcs8', fromPem(readFileSync(keyPath, 'utf8'), 'PRIVATE KEY'), EC_P256, true, [
      'sign',
    ]);
    return { ca: { certPem, cert: new x509.X509Certificate(certPem), key }, created: false, path: certPath };
  }
  mkdirSync(dataDir, { recursive: true });
  const ca = await createCa('MDM Check-in Development CA');
  writeFileSync(keyPath, pem('PRIVATE KEY', await subtle.exportKey('pkcs8', ca.key)), { mode: 0o600 });
  writeFileSync(certPath, ca.certPem);
  return { ca, created: true, path: certPath };
}

/** Issues a device identity certificate (or an intermediate CA with `ca: true`) from `issuer`. */
export async function issueIdentity(
  issuer: CertificateAuthority,
  options: IssueOptions & { ca?: boolean },
): Promise<DeviceIdentity> {
  const hash = options.hash ?? 'SHA-256';
  const algorithm =
    options.keyType === 'rsa'
      ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash }
      : { name: 'ECDSA', namedCurve: 'P-256', hash };
  const keys = await subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const extensions: x509.Extension[] = options.ca
    ? [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ]
    : [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension(options.extendedKeyUsages ?? [x509.ExtendedKeyUsage.clientAuth]),
        ...(options.subjectAltNames === undefined
          ? []
          : [new x509.SubjectAlternativeNameExtension(options.subjectAltNames)]),
      ];
  const commonName = options.commonName.replace(/[,+=<>#;"\\]/g, '_');
  const cert = await x509.X509CertificateGenerator.create({
    subject:
      options.subjectSerialNumber === undefined
        ? `CN=${commonName}`
        : [{ CN: [commonName] }, { '2.5.4.5': [options.subjectSerialNumber] }],
    issuer: issuer.cert.subject,
    notBefore,
    notAfter: options.notAfter ?? new Date(notBefore.getTime() + 365 * 24 * 3600 * 1000),
    publicKey: keys.publicKey as unknown as CreateParams['publicKey'],
    signingKey: issuer.key,
    signingAlgorithm: EC_P256,
    extensions,
  });
  return {
    certPem: cert.toString('pem'),
    certDer: Buffer.from(cert.rawData),
    keyPem: pem('PRIVATE KEY', await subtle.exportKey('pkcs8', keys.privateKey)),
    key: keys.privateKey,
  };
}

/** Reads a device identity written by `npm run dev:device-cert` (certificate and PKCS#8 key PEMs). */
export async function loadIdentity(
  certPem: string,
  keyPem: string,
  keyType: KeyType,
  hash: 'SHA-1' | 'SHA-256' = 'SHA-256',
): Promise<DeviceIdentity> {
  const algorithm = keyType === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash } : { name: 'ECDSA', namedCurve: 'P-256' };
  const key = await subtle.importKey('pkcs8', fromPem(keyPem, 'PRIVATE KEY'), algorithm, true, ['sign']);
  return { certPem, certDer: Buffer.from(fromPem(certPem, 'CERTIFICATE')), keyPem, key };
}
