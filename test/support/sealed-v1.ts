import { createCipheriv, randomBytes } from 'node:crypto';

/**
 * A secret in the first sealed format, as the server wrote it before values named their key
 * (version 1 | iv | tag | ciphertext): rows like this must still open.
 */
export function sealV1(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), iv, cipher.getAuthTag(), body]);
}
