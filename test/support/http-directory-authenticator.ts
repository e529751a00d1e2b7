import type {
  DigestAttempt,
  DigestVerdict,
  UserAuthenticator,
  UserAuthenticatorContext,
} from '../../src/user-channels/user-authenticator.js';

/**
 * An example USER_AUTHENTICATOR_MODULE (README, "Plugging in your directory"): it asks a
 * directory service over HTTP to check the DigestResponse, the way a team would put a bind
 * against its own directory behind a small endpoint.
 *
 *   POST $DIRECTORY_URL/bind  {"user": <short name>, "challenge": <ours>, "response": <the device's>}
 *   200 → accept · 401 → wrong password · 404 → not a managed user (410) · anything else → error
 */
class HttpDirectoryAuthenticator implements UserAuthenticator {
  constructor(
    private readonly url: string,
    private readonly context: UserAuthenticatorContext,
  ) {}

  async authenticate(attempt: DigestAttempt): Promise<DigestVerdict> {
    const res = await fetch(new URL('bind', this.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: attempt.shortName, challenge: attempt.challenge, response: attempt.digestResponse }),
      signal: AbortSignal.timeout(5000),
    });
    await res.arrayBuffer();
    switch (res.status) {
      case 200:
        // No authToken: the server makes a random one and stores only its hash.
        return { outcome: 'accept' };
      case 401:
        this.context.log('info', 'directory: wrong password', { user: attempt.shortName });
        return { outcome: 'wrong-password' };
      case 404:
        return { outcome: 'decline' };
      default:
        throw new Error(`the directory answered ${res.status}`);
    }
  }
}

export default function createUserAuthenticator(context: UserAuthenticatorContext): UserAuthenticator {
  const url = context.env.DIRECTORY_URL;
  if (url === undefined || url === '') throw new Error('DIRECTORY_URL is not set');
  return new HttpDirectoryAuthenticator(url.endsWith('/') ? url : `${url}/`, context);
}
