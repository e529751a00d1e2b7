import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `1 | iv(12) | tag(16) | ciphertext`: the first format, which does not say which key sealed it. */
const V1 = 1;
/** `2 | keyId(4) | iv(12) | tag(16) | ciphertext`; version and key id are authenticated with the aad. */
const V2 = 2;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const V1_HEADER = 1 + IV_BYTES + TAG_BYTES;
const V2_HEADER = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

export type SecretFailure = 'unknown-format' | 'unknown-key' | 'authentication-failed';

/** Decryption failed: wrong key, or the stored value was altered or moved to another row. */
export class SecretDecryptionError extends Error {
  constructor(
    readonly failure: SecretFailure,
    reason: string,
    /** Where the value lives (its aad: table.column:row), never the value. */
    readonly location: string,
    /** Hex id of the key the value names (format 2), when it names one. */
    readonly keyId?: string,
  ) {
    super(`cannot decrypt stored secret ${location}: ${reason}`);
    this.name = 'SecretDecryptionError';
  }

  /** What an operator should do about it, for the log line. */
  get hint(): string {
    switch (this.failure) {
      case 'unknown-key':
        return `the value was sealed with key ${this.keyId ?? '?'}, which is neither SECRETS_KEY nor in SECRETS_PREVIOUS_KEYS: add that key to SECRETS_PREVIOUS_KEYS`;
      case 'authentication-failed':
        return this.keyId === undefined
          ? 'no configured key opens this value (sealed before key ids existed): add the key that sealed it to SECRETS_PREVIOUS_KEYS'
          : 'the value does not match its row (altered or copied from another row); the device must send it again';
      case 'unknown-format':
        return 'the stored value is not a sealed secret of this server';
    }
  }
}

/** A short public name of a key: the first bytes of a domain-separated SHA-256 of it. */
export function secretsKeyId(key: Buffer): string {
  return createHash('sha256')
    .update('mdm-checkin secrets key id\0')
    .update(key)
    .digest()
    .subarray(0, KEY_ID_BYTES)
    .toString('hex');
}

/**
 * AES-256-GCM for secrets at rest (UnlockToken, bootstrap token). The caller passes an
 * `aad` naming where the value lives (table, column, row id) so a ciphertext copied onto
 * another row fails to open.
 *
 * Every value is sealed with the current key and names it (format 2), so a key can be
 * rotated: the old key moves to the previous keys, which still open, until
 * `npm run secrets:reseal` has sealed every row again under the current one. Values of the
 * first format name no key: every configured key is tried.
 */
export class SecretBox {
  private readonly current: { id: Buffer; key: Buffer };
  private readonly byId = new Map<string, Buffer>();

  constructor(key: Buffer, previousKeys: readonly Buffer[] = []) {
    for (const k of [key, ...previousKeys]) {
      if (k.length !== 32) throw new Error('SecretBox needs a 32-byte key');
      const id = secretsKeyId(k);
      if (!this.byId.has(id)) this.byId.set(id, k);
    }
    this.current = { id: Buffer.from(secretsKeyId(key), 'hex'), key };
  }

  /** Hex id of the key new values are sealed with. */
  get currentKeyId(): string {
    return this.current.id.toString('hex');
  }

  seal(plaintext: Buffer, aad: string): Buffer {
    const header = Buffer.concat([Buffer.from([V2]), this.current.id]);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.concat([header, Buffer.from(aad, 'utf8')]));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([header, iv, cipher.getAuthTag(), body]);
  }

  /** Hex ids of the other keys that still open values (SECRETS_PREVIOUS_KEYS). */
  get previousKeyIds(): string[] {
    return [...this.byId.keys()].filter((id) => id !== this.currentKeyId);
  }

  /** Whether `sealed` is already in the newest format under the current key (nothing to reseal). */
  isCurrent(sealed: Buffer): boolean {
    return (
      sealed.length >= V2_HEADER && sealed[0] === V2 && sealed.subarray(1, 1 + KEY_ID_BYTES).equals(this.current.id)
    );
  }

  open(sealed: Buffer, aad: string): Buffer {
    if (sealed.length >= V2_HEADER && sealed[0] === V2) {
      const id = sealed.subarray(1, 1 + KEY_ID_BYTES).toString('hex');
      const key = this.byId.get(id);
      if (key === undefined) {
        throw new SecretDecryptionError('unknown-key', `sealed with key ${id}, which is not configured`, aad, id);
      }
      const header = sealed.subarray(0, 1 + KEY_ID_BYTES);
      const opened = decrypt(key, sealed.subarray(1 + KEY_ID_BYTES), Buffer.concat([header, Buffer.from(aad, 'utf8')]));
      if (opened === undefined) {
        throw new SecretDecryptionError('authentication-failed', `authentication failed with key ${id}`, aad, id);
      }
      return opened;
    }
    if (sealed.length >= V1_HEADER && sealed[0] === V1) {
      for (const key of this.byId.values()) {
        const opened = decrypt(key, sealed.subarray(1), Buffer.from(aad, 'utf8'));
        if (opened !== undefined) return opened;
      }
      throw new SecretDecryptionError('authentication-failed', 'authentication failed (wrong SECRETS_KEY?)', aad);
    }
    throw new SecretDecryptionError('unknown-format', 'unknown format', aad);
  }
}

/** `ivTagBody` = iv | tag | ciphertext; undefined when the key or aad is not the one that sealed it. */
function decrypt(key: Buffer, ivTagBody: Buffer, aad: Buffer): Buffer | undefined {
  const iv = ivTagBody.subarray(0, IV_BYTES);
  const tag = ivTagBody.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ivTagBody.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

export const DEV_SECRETS_KEY_FILE = 'secrets.key';

/**
 * The development key: read from `<dataDir>/secrets.key`, created (mode 0600) on first use.
 * Returns whether it was created so the caller can warn.
 */
export function loadOrCreateDevKey(dataDir: string): { key: Buffer; path: string; created: boolean } {
  const path = join(dataDir, DEV_SECRETS_KEY_FILE);
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${path} does not hold a base64 32-byte key`);
    return { key, path, created: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  // Written whole under a temporary name, then linked into place (which fails if the file
  // exists): a second process starting at the same moment reads a complete key, never half of one.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return loadOrCreateDevKey(dataDir);
  } finally {
    unlinkSync(tmp);
  }
  return { key, path, created: true };
}
