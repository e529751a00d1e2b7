import { pathToFileURL } from 'node:url';
import type { ResolvedEnrollment } from '../checkin/enrollment-id.js';
import { ConfigError } from '../config/config.js';
import type { AppConfig } from '../config/config.js';
import type { AppLogger, LogFields } from '../logging/app-logger.js';

/** The second UserAuthenticate step, as the directory sees it. */
export interface DigestAttempt {
  readonly enrollment: ResolvedEnrollment;
  readonly userId: string;
  readonly shortName: string | undefined;
  readonly longName: string | undefined;
  /** The challenge this server sent in the first step (still pending and unexpired). */
  readonly challenge: string;
  /** Built by the device from the short name, the password and the challenge. Never log it. */
  readonly digestResponse: string;
}

export type DigestVerdict =
  /**
   * Manage the user; the device sends `authToken` in later requests of this user. Leave it out
   * and the server makes a random one (only its hash is stored).
   */
  | { readonly outcome: 'accept'; readonly authToken?: string }
  /** Wrong password: 200 with an empty AuthToken, as Apple asks. */
  | { readonly outcome: 'wrong-password' }
  /** Do not manage this user: 410. */
  | { readonly outcome: 'decline' };

/**
 * Checks a macOS user's DigestResponse against a directory. A thrown error is the server's
 * fault (the device gets 500 and retries; the challenge stays usable until it expires).
 */
export interface UserAuthenticator {
  authenticate(attempt: DigestAttempt): Promise<DigestVerdict>;
}

export const USER_AUTHENTICATOR = Symbol('USER_AUTHENTICATOR');

/** What a plug-in's factory gets. */
export interface UserAuthenticatorContext {
  /** The process environment, for the plug-in's own settings (directory address, bind account). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A line in the server's log. Never pass passwords, digests or tokens. */
  log(level: 'error' | 'warn' | 'info' | 'debug', msg: string, fields?: LogFields): void;
}

/**
 * The plug-in API: the default export of the ES module named by USER_AUTHENTICATOR_MODULE,
 * called once at start-up.
 */
export type UserAuthenticatorFactory = (
  context: UserAuthenticatorContext,
) => UserAuthenticator | Promise<UserAuthenticator>;

/**
 * Accepts every user and every password. For development only: configuration refuses
 * USER_AUTHENTICATE_POLICY=challenge in production without USER_AUTHENTICATOR_MODULE.
 */
export class AcceptingUserAuthenticator implements UserAuthenticator {
  authenticate(): Promise<DigestVerdict> {
    // The handler makes the AuthToken, as for any authenticator that leaves it out.
    return Promise.resolve({ outcome: 'accept' });
  }
}

/** The configured authenticator: the plug-in module's, or (outside production) the accepting one. */
export async function loadUserAuthenticator(config: AppConfig, logger: AppLogger): Promise<UserAuthenticator> {
  const { authenticatorModule: path, policy } = config.userAuthenticate;
  if (path === undefined) {
    if (config.production && policy === 'challenge') {
      // loadConfig already refuses this; kept here so no other entry point can skip it.
      throw new ConfigError('USER_AUTHENTICATOR_MODULE', 'is required in production with a challenge policy');
    }
    if (policy === 'challenge') {
      logger.emit('warn', 'the built-in user authenticator accepts every password (development only)', {
        hint: 'set USER_AUTHENTICATOR_MODULE to a module that checks your directory',
      });
    }
    return new AcceptingUserAuthenticator();
  }
  let factory: unknown;
  try {
    factory = ((await import(pathToFileURL(path).href)) as { default?: unknown }).default;
  } catch (err) {
    throw new ConfigError(
      'USER_AUTHENTICATOR_MODULE',
      `cannot be loaded from ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (typeof factory !== 'function') {
    throw new ConfigError('USER_AUTHENTICATOR_MODULE', `${path} must default-export a function (the factory)`);
  }
  const context: UserAuthenticatorContext = {
    env: process.env,
    log: (level, msg, fields = {}) => logger.emit(level, msg, { ...fields, component: 'user-authenticator' }),
  };
  const authenticator = (await (factory as UserAuthenticatorFactory)(context)) as Partial<UserAuthenticator> | null;
  if (typeof authenticator?.authenticate !== 'function') {
    throw new ConfigError(
      'USER_AUTHENTICATOR_MODULE',
      `the factory of ${path} must return an object with an authenticate(attempt) method`,
    );
  }
  logger.emit('info', 'user authenticator loaded', { module: path });
  return authenticator as UserAuthenticator;
}
