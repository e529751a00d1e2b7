import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEV_SECRETS_KEY_FILE, SecretBox, SecretDecryptionError, loadOrCreateDevKey } from './secret-box.js';

const AAD = 'devices.unlock_token:00008103-0012345A3E88801E';
const HEADER = 1 + 12 + 16;

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

  it('writes version 1, a 12-byte IV, a 16-byte tag, then ciphertext of the same length', () => {
    const sealed = box.seal(plaintext, AAD);
    assert.equal(sealed.length, HEADER + plaintext.length);
    assert.equal(sealed[0], 1);
    assert.ok(!sealed.includes(plaintext), 'the plaintext must not appear in the sealed form');
  });

  it('uses a fresh IV for every seal', () => {
    const a = box.seal(plaintext, AAD);
    const b = box.seal(plaintext, AAD);
    assert.notDeepStrictEqual(a.subarray(1, 13), b.subarray(1, 13));
    assert.notDeepStrictEqual(a, b);
    assert.deepStrictEqual(box.open(a, AAD), plaintext);
    assert.deepStrictEqual(box.open(b, AAD), plaintext);
    const ivs = new Set(Array.from({ length: 200 }, () => box.seal(plaintext, AAD).subarray(1, 13).toString('hex')));
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
    assertDecryptionFails(() => box.open(flip(sealed, 1 + 12), AAD), /authentication failed/);
    assertDecryptionFails(() => box.open(flip(sealed, HEADER - 1), AAD), /authentication failed/);
    assertDecryptionFails(() => box.open(flip(sealed, 1), AAD), /authentication failed/);
  });

  it('refuses the wrong aad (a value moved to another row or column)', () => {
    const sealed = box.seal(plaintext, AAD);
    assertDecryptionFails(() => box.open(sealed, `${AAD}x`), /authentication failed/);
    assertDecryptionFails(() => box.open(sealed, 'devices.bootstrap_token:00008103-0012345A3E88801E'));
    assertDecryptionFails(() => box.open(sealed, ''));
  });

  it('refuses the wrong key', () => {
    const sealed = box.seal(plaintext, AAD);
    assertDecryptionFails(() => new SecretBox(randomBytes(32)).open(sealed, AAD), /wrong SECRETS_KEY/);
  });

  it('refuses an unknown version or a value too short to hold the header', () => {
    const sealed = box.seal(plaintext, AAD);
    const v2 = Buffer.from(sealed);
    v2[0] = 2;
    assertDecryptionFails(() => box.open(v2, AAD), /unknown format/);
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
