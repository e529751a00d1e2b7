import { randomBytes } from 'node:crypto';
import type { ResolvedEnrollment } from '../checkin/enrollment-id.js';

/** The second UserAuthenticate step, as the directory sees it. */
export interface DigestAttempt {
  readonly enrollment: ResolvedEnrollment;
  readonly userId: string;
  readonly shortName: string | undefined;
  readonly longName: string | undefined;
  /** The challenge this server sent in the first step; null when it sent none. */
  readonly challenge: string | null;
  /** Built by the device from the short name, the password and the challenge. Never log it. */
  readonly digestResponse: string;
}

export type DigestVerdict =
  /** Manage the user; the device sends `authToken` in later requests of this user. */
  | { readonly outcome: 'accept'; readonly authToken: string }
  /** Wrong password: 200 with an empty AuthToken, as Apple asks. */
  | { readonly outcome: 'wrong-password' }
  /** Do not manage this user: 410. */
  | { readonly outcome: 'decline' };

/**
 * Checks a macOS user's DigestResponse. The built-in one accepts every user; a team plugs in
 * its directory by providing another implementation under {@link USER_AUTHENTICATOR}.
 */
export interface UserAuthenticator {
  authenticate(attempt: DigestAttempt): Promise<DigestVerdict>;
}

export const USER_AUTHENTICATOR = Symbol('USER_AUTHENTICATOR');

/** Accepts every user with a fresh random AuthToken (the attempt is recorded on the user). */
export class AcceptingUserAuthenticator implements UserAuthenticator {
  authenticate(): Promise<DigestVerdict> {
    return Promise.resolve({ outcome: 'accept', authToken: randomBytes(24).toString('base64url') });
  }
}
