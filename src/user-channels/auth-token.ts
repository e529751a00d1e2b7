import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh AuthToken: 32 random bytes, base64url. */
export function newAuthToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * What is stored of an AuthToken: its SHA-256 in hex. The tokens are random and long (no
 * dictionary to try), so a plain hash is enough to make a copy of the table useless.
 */
export function hashAuthToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether `token` is the one whose hash is stored, in time that does not depend on where they differ. */
export function authTokenMatches(token: string, storedHash: string): boolean {
  const presented = Buffer.from(hashAuthToken(token), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
