import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  DEV_SECRETS_KEY_FILE,
  SecretBox,
  SecretDecryptionError,
  loadOrCreateDevKey,
  secretsKeyId,
} from './secret-box.js';
import { sealV1 } from '../../test/support/sealed-v1.js';

const AAD = 'devices.unlock_token:00008103-0012345A3E88801E';
const HEADER = 1 + 4 + 12 + 16;
const IV_AT = 5;

function assertDecryptionFails(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SecretDecryptionError, `expected a SecretDecryptionError, got ${String(err)}`);
    assert.equal(err.name, 'SecretDecryptionError');
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

function flip(buf: Buffer, at: number): Buffer {
  const copy = Buffer.from(buf);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

describe('SecretBox', () => {
  const key = randomBytes(32);
  const box = new SecretBox(key);
  const plaintext = Buffer.from('an UnlockToken is opaque binary \x00\x01\xff', 'latin1');

  it('opens what it sealed', () => {
    const sealed = box.seal(plaintext, AAD);
    assert.deepStrictEqual(box.open(sealed, AAD), plaintext);
  });

  it('round-trips an empty and a large plaintext', () => {
    assert.deepStrictEqual(box.open(box.seal(Buffer.alloc(0), AAD), AAD), Buffer.alloc(0));
    const large = randomBytes(256 * 1024);
    assert.deepStrictEqual(box.open(box.seal(large, AAD), AAD), large);
  });

  it('opens with another SecretBox holding the same key', () => {
    const sealed = box.seal(plaintext, AAD);
    assert.deepStrictEqual(new SecretBox(Buffer.from(key)).open(sealed, AAD), plaintext);
  });

  it('writes version 2, the key id, a 12-byte IV, a 16-byte tag, then ciphertext of the same length', () => {
    const sealed = box.seal(plaintext, AAD);
    assert.equal(sealed.length, HEADER + plaintext.length);
    assert.equal(sealed[0], 2);
    assert.equal(sealed.subarray(1, 5).toString('hex'), secretsKeyId(key));
    assert.equal(box.currentKeyId, secretsKeyId(key));
    assert.ok(!sealed.includes(plaintext), 'the plaintext must not appear in the sealed form');
  });

  it('uses a fresh IV for every seal', () => {
    const a = box.seal(plaintext, AAD);
    const b = box.seal(plaintext, AAD);
    assert.notDeepStrictEqual(a.subarray(IV_AT, IV_AT + 12), b.subarray(IV_AT, IV_AT + 12));
    assert.notDeepStrictEqual(a, b);
    assert.deepStrictEqual(box.open(a, AAD), plaintext);
    assert.deepStrictEqual(box.open(b, AAD), plaintext);
    const ivs = new Set(
      Array.from({ length: 200 }, () =>
        box
          .seal(plaintext, AAD)
          .subarray(IV_AT, IV_AT + 12)
          .toString('hex'),
      ),
    );
    assert.equal(ivs.size, 200);
  });

  it('refuses a tampered ciphertext', () => {
    const sealed = box.seal(plaintext, AAD);
    assertDecryptionFails(() => box.open(flip(sealed, HEADER), AAD), /authentication failed/);
    assertDecryptionFails(() => box.open(flip(sealed, sealed.length - 1), AAD), /authentication failed/);
    assertDecryptionFails(() => box.open(sealed.subarray(0, sealed.length - 1), AAD), /authentication failed/);
    assertDecryptionFails(() => box.open(Buffer.concat([sealed, Buffer.from([0])]), AAD), /authentication failed/);
  });

  it('refuses a tampered tag or IV', () => {
    const sealed = box.seal(plaintext, AAD);
    assertDecryptionFails(() => box.open(flip(sealed, IV_AT + 12), AAD), /authentication failed/);
    assertDecryptionFails(() => box.open(flip(sealed, HEADER - 1), AAD), /authentication failed/);
    assertDecryptionFails(() => box.open(flip(sealed, IV_AT), AAD), /authentication failed/);
    // The key id is authenticated too: a value cannot be made to name another configured key.
    const other = randomBytes(32);
    const both = new SecretBox(key, [other]);
    const relabelled = Buffer.from(sealed);
    Buffer.from(secretsKeyId(other), 'hex').copy(relabelled, 1);
    assertDecryptionFails(() => both.open(relabelled, AAD), /authentication failed/);
  });

  it('refuses the wrong aad (a value moved to another row or column)', () => {
    const sealed = box.seal(plaintext, AAD);
    assertDecryptionFails(() => box.open(sealed, `${AAD}x`), /authentication failed/);
    assertDecryptionFails(() => box.open(sealed, 'devices.bootstrap_token:00008103-0012345A3E88801E'));
    assertDecryptionFails(() => box.open(sealed, ''));
  });

  it('refuses the wrong key', () => {
    const sealed = box.seal(plaintext, AAD);
    const stranger = new SecretBox(randomBytes(32));
    assert.throws(
      () => stranger.open(sealed, AAD),
      (err: unknown) =>
        err instanceof SecretDecryptionError &&
        err.failure === 'unknown-key' &&
        err.keyId === secretsKeyId(key) &&
        /SECRETS_PREVIOUS_KEYS/.test(err.hint),
    );
  });

  it('opens values sealed under a previous key and seals only under the current one', () => {
    const next = randomBytes(32);
    const sealedBefore = box.seal(plaintext, AAD);
    const rotated = new SecretBox(next, [key]);
    assert.deepStrictEqual(rotated.open(sealedBefore, AAD), plaintext);
    assert.equal(rotated.isCurrent(sealedBefore), false);
    const resealed = rotated.seal(rotated.open(sealedBefore, AAD), AAD);
    assert.equal(rotated.isCurrent(resealed), true);
    assert.equal(resealed.subarray(1, 5).toString('hex'), secretsKeyId(next));
    // Once the old key is dropped, the resealed value still opens and the old one names its key.
    const dropped = new SecretBox(next);
    assert.deepStrictEqual(dropped.open(resealed, AAD), plaintext);
    assertDecryptionFails(() => dropped.open(sealedBefore, AAD), new RegExp(`key ${secretsKeyId(key)}`));
  });

  it('opens the first format (no key id) with the current or a previous key', () => {
    const legacy = sealV1(key, plaintext, AAD);
    assert.deepStrictEqual(box.open(legacy, AAD), plaintext);
    assert.equal(box.isCurrent(legacy), false);
    assert.deepStrictEqual(new SecretBox(randomBytes(32), [randomBytes(32), key]).open(legacy, AAD), plaintext);
    assertDecryptionFails(() => new SecretBox(randomBytes(32)).open(legacy, AAD), /wrong SECRETS_KEY/);
    assertDecryptionFails(() => box.open(legacy, `${AAD}x`), /authentication failed/);
  });

  it('refuses an unknown version or a value too short to hold the header', () => {
    const sealed = box.seal(plaintext, AAD);
    const v3 = Buffer.from(sealed);
    v3[0] = 3;
    assertDecryptionFails(() => box.open(v3, AAD), /unknown format/);
    assertDecryptionFails(() => box.open(Buffer.alloc(0), AAD), /unknown format/);
    assertDecryptionFails(() => box.open(sealed.subarray(0, HEADER - 1), AAD), /unknown format/);
    assertDecryptionFails(() => box.open(Buffer.from('not encrypted at all, plain text'), AAD), /unknown format/);
  });

  it('needs a 32-byte key', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(() => new SecretBox(randomBytes(length)), /SecretBox needs a 32-byte key/, String(length));
    }
    assert.doesNotThrow(() => new SecretBox(randomBytes(32)));
  });
});

describe('loadOrCreateDevKey', () => {
  let tmp: string;

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'secret-box-spec-'));
  });

  after(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('processes that start together on one data folder all get the same, whole key', async () => {
    const dataDir = join(tmp, 'together');
    const module = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'secret-box.js')).href;
    const script = `import { loadOrCreateDevKey } from ${JSON.stringify(module)};
      process.stdout.write(loadOrCreateDevKey(${JSON.stringify(dataDir)}).key.toString('base64'));`;
    const keys = await Promise.all(
      Array.from(
        { length: 8 },
        () =>
          new Promise<string>((resolve, reject) => {
            const child = spawn(process.execPath, ['--input-type=module', '-e', script]);
            let out = '';
            let err = '';
            child.stdout.on('data', (c: Buffer) => (out += c.toString()));
            child.stderr.on('data', (c: Buffer) => (err += c.toString()));
            child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
          }),
      ),
    );
    assert.equal(new Set(keys).size, 1, keys.join(' '));
    assert.equal(Buffer.from(keys[0] ?? '', 'base64').length, 32);
    assert.deepEqual(
      readdirSync(dataDir).filter((f) => f !== DEV_SECRETS_KEY_FILE),
      [],
      'no temporary file is left behind',
    );
  });

  it('creates a 0600 key file (and its directory) on first use, then reads the same key back', () => {
    const dataDir = join(tmp, 'nested', 'data');
    const path = join(dataDir, DEV_SECRETS_KEY_FILE);
    assert.equal(existsSync(path), false);

    const first = loadOrCreateDevKey(dataDir);
    assert.equal(first.created, true);
    assert.equal(first.path, path);
    assert.equal(first.key.length, 32);
    assert.equal(readFileSync(path, 'utf8'), `${first.key.toString('base64')}\n`);
    if (process.platform !== 'win32') assert.equal(statSync(path).mode & 0o777, 0o600);

    const second = loadOrCreateDevKey(dataDir);
    assert.equal(second.created, false);
    assert.equal(second.path, path);
    assert.deepStrictEqual(second.key, first.key);

    // Secrets sealed with the first key still open after a restart.
    const sealed = new SecretBox(first.key).seal(Buffer.from('token'), AAD);
    assert.deepStrictEqual(new SecretBox(second.key).open(sealed, AAD), Buffer.from('token'));
  });

  it('creates a different key in another data directory', () => {
    const a = loadOrCreateDevKey(join(tmp, 'a'));
    const b = loadOrCreateDevKey(join(tmp, 'b'));
    assert.equal(a.created && b.created, true);
    assert.notDeepStrictEqual(a.key, b.key);
  });

  it('reads an existing key file written by hand, surrounding whitespace allowed', () => {
    const dataDir = join(tmp, 'existing');
    loadOrCreateDevKey(dataDir);
    const key = randomBytes(32);
    writeFileSync(join(dataDir, DEV_SECRETS_KEY_FILE), `  ${key.toString('base64')}\n\n`);
    const loaded = loadOrCreateDevKey(dataDir);
    assert.equal(loaded.created, false);
    assert.deepStrictEqual(loaded.key, key);
  });

  it('refuses a key file that does not hold 32 bytes, and leaves it untouched', () => {
    const dataDir = join(tmp, 'bad');
    loadOrCreateDevKey(dataDir);
    const path = join(dataDir, DEV_SECRETS_KEY_FILE);
    writeFileSync(path, `${randomBytes(16).toString('base64')}\n`);
    const original = readFileSync(path, 'utf8');
    assert.throws(() => loadOrCreateDevKey(dataDir), /does not hold a base64 32-byte key/);
    assert.equal(readFileSync(path, 'utf8'), original);
  });
});
