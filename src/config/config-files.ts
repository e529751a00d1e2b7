import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { AppConfig, MaidConfig } from './config.js';
import { ConfigError } from './config.js';

/**
 * Reads every file a setting names once at start-up, before a database pool is opened or a
 * module is built, so that a missing file, a file that is not PEM or a key that does not
 * match its certificate ends the process with one line naming the variable (exit 78)
 * instead of a stack trace from deep inside a module.
 */
export function checkConfigFiles(config: AppConfig): void {
  const id = config.deviceIdentity;
  if (id.mode !== 'none') {
    if (id.caFile !== undefined) readCertificates('DEVICE_CA_FILE', id.caFile);
    if (id.intermediatesFile !== undefined) readCertificates('DEVICE_INTERMEDIATES_FILE', id.intermediatesFile);
  }
  if (config.maid !== undefined) loadMaidSigningKey(config.maid);
  const watch = config.watchPairing;
  if (watch.signingKeyFile !== undefined) privateKey('WATCH_PAIRING_KEY_FILE', watch.signingKeyFile);
  if (watch.verifyKeysFile !== undefined) {
    const pem = read('WATCH_PAIRING_VERIFY_KEYS_FILE', watch.verifyKeysFile).toString('utf8');
    if (!/-----BEGIN (PUBLIC KEY|CERTIFICATE)-----/.test(pem)) {
      throw new ConfigError(
        'WATCH_PAIRING_VERIFY_KEYS_FILE',
        `${watch.verifyKeysFile} holds no PUBLIC KEY or CERTIFICATE block`,
      );
    }
  }
}

/**
 * The com.apple.maid signing key and its certificate: an RSA key (RS256) that is the
 * certificate's. Throws a {@link ConfigError} naming the variable to fix.
 */
export function loadMaidSigningKey(maid: MaidConfig): { key: KeyObject; cert: X509Certificate } {
  const key = privateKey('MAID_SIGNING_KEY_FILE', maid.signingKeyFile);
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ConfigError('MAID_SIGNING_KEY_FILE', `${maid.signingKeyFile} must hold an RSA key (RS256)`);
  }
  const [cert] = readCertificates('MAID_SIGNING_CERT_FILE', maid.signingCertFile);
  const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  if (cert === undefined || !spki(createPublicKey(key)).equals(spki(cert.publicKey))) {
    throw new ConfigError(
      'MAID_SIGNING_KEY_FILE',
      `does not hold the private key of the certificate in MAID_SIGNING_CERT_FILE (${maid.signingCertFile})`,
    );
  }
  return { key, cert };
}

function read(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : code;
    throw new ConfigError(
      variable,
      `names ${path}, which ${code === 'ENOENT' || code === 'EACCES' ? why : `cannot be read: ${why}`}`,
    );
  }
}

/** The certificates of a PEM file a setting names; a {@link ConfigError} naming it when there are none. */
export function readCertificates(variable: string, path: string): X509Certificate[] {
  const pem = read(variable, path).toString('utf8');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(variable, `names ${path}, which holds no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new ConfigError(variable, `names ${path}, whose certificate #${i + 1} cannot be parsed`);
    }
  });
}

function privateKey(variable: string, path: string): KeyObject {
  const bytes = read(variable, path);
  try {
    return createPrivateKey(bytes);
  } catch {
    throw new ConfigError(variable, `names ${path}, which holds no readable private key (PEM, unencrypted)`);
  }
}
