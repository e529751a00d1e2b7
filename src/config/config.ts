import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';

/** Where the service keeps its data: an embedded SQLite file or a MySQL/MariaDB server. */
export type DatabaseConfig =
  | { readonly driver: 'sqlite'; readonly path: string }
  | { readonly driver: 'mysql'; readonly url: string; readonly database: string };

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
/** GetToken's `com.apple.maid` service: off unless all three are set. */
export interface MaidConfig {
  readonly serverUuid: string;
  readonly signingKeyFile: string;
  readonly signingCertFile: string;
}

export interface WatchPairingConfig {
  /** PEM private key (EC P-256 or RSA) that signs pairing tokens; `undefined`: the service is off. */
  readonly signingKeyFile: string | undefined;
  /** PEM public keys (or certificates) also accepted when verifying: keys being rotated out. */
  readonly verifyKeysFile: string | undefined;
  readonly ttlSeconds: number;
}

/**
 * The first UserAuthenticate of a macOS user: decline (410, the user is not managed),
 * challenge (a DigestChallenge; the second step goes to the user authenticator) or allow (an
 * empty DigestChallenge: managed without an AuthToken).
 */
export type UserAuthenticatePolicy = 'decline' | 'challenge' | 'allow';

export interface UserAuthenticateConfig {
  readonly policy: UserAuthenticatePolicy;
  /** How long a DigestChallenge can be answered. */
  readonly challengeTtlSeconds: number;
  /** Whether an AuthToken carried by a user-channel message must be the one last issued. */
  readonly authTokenCheck: boolean;
  /** ES module whose default export builds the UserAuthenticator; `undefined`: the built-in one. */
  readonly authenticatorModule: string | undefined;
}

/** How a check-in proves which device sent it (see device-identity/). */
export type DeviceAuthMode = 'signature' | 'header' | 'none';

export interface DeviceIdentityConfig {
  readonly mode: DeviceAuthMode;
  /** PEM file(s) of the CA(s) device identities chain to; `undefined` outside production means the development CA. */
  readonly caFile: string | undefined;
  readonly intermediatesFile: string | undefined;
  /** Lower-case header name carrying the proxy-verified client certificate (`header` mode). */
  readonly certHeader: string;
  readonly clockSkewSeconds: number;
  /** Bind a certificate to an enrollment that has none yet (migrated from another server). */
  readonly bindRetroactively: boolean;
  /** Which device name a certificate must carry to speak for a device (DEVICE_CERT_MATCH). */
  readonly certMatch: DeviceCertMatch;
}

/** `none`: any certificate of the CA; otherwise the certificate must name the device's UDID and/or serial. */
export type DeviceCertMatch = 'none' | 'udid' | 'serial' | 'udid-or-serial';
export type LogFormat = 'json' | 'text';

export interface AppConfig {
  readonly production: boolean;
  readonly port: number;
  /** The one address to listen on; `undefined`: every interface. */
  readonly host: string | undefined;
  /** Port of the Prometheus `/metrics` server (on `host`); `undefined`: no metrics are collected or served. */
  readonly metricsPort: number | undefined;
  readonly database: DatabaseConfig;
  readonly dataDir: string;
  /** `undefined` turns the whole `/api` off. */
  readonly adminApiKey: string | undefined;
  /** Serve the OpenAPI document (`/api/openapi.json`) and its UI (`/api/docs`), behind the admin key. */
  readonly apiDocs: boolean;
  readonly checkinMaxBodyBytes: number;
  /** Empty: any topic that starts with `com.apple.mgmt.` is accepted. */
  readonly pushTopics: readonly string[];
  /** 32 raw bytes, or `undefined` to use (or create) the development key in `dataDir`. */
  readonly secretsKey: Buffer | undefined;
  /** Keys that still open secrets sealed before a rotation (`SECRETS_PREVIOUS_KEYS`); never used to seal. */
  readonly secretsPreviousKeys: readonly Buffer[];
  /** Bound on one database query and on waiting for a pooled connection (or SQLite's lock), ms. */
  readonly databaseTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly databasePoolSize: number;
  readonly deviceIdentity: DeviceIdentityConfig;
  readonly maid: MaidConfig | undefined;
  readonly watchPairing: WatchPairingConfig;
  readonly userAuthenticate: UserAuthenticateConfig;
}

/** A configuration problem, always naming the variable at fault. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export const PUSH_TOPIC_PREFIX = 'com.apple.mgmt.';
export const DEFAULT_DATABASE_URL = 'sqlite:./data/mdm.sqlite';

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return trimmed === '' ? undefined : trimmed;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  const found = allowed.find((a) => a === lower);
  if (found === undefined) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return found;
}

/** Parses `DATABASE_URL`: `sqlite:<path>` (relative to the working directory) or `mysql://...`. */
export function parseDatabaseUrl(raw: string, cwd: string = process.cwd()): DatabaseConfig {
  if (raw.startsWith('sqlite:')) {
    let path = raw.slice('sqlite:'.length);
    // Accept sqlite:///abs/path and sqlite://./rel as well as sqlite:./rel.
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw new ConfigError('DATABASE_URL', 'has an empty SQLite path');
    if (path === ':memory:') return { driver: 'sqlite', path };
    return { driver: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (raw.startsWith('mysql://') || raw.startsWith('mariadb://')) {
    let url: URL;
    try {
      url = new URL(raw.replace(/^mariadb:/, 'mysql:'));
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid mysql:// URL');
    }
    let database: string;
    try {
      database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    } catch {
      throw new ConfigError('DATABASE_URL', 'has a database name that is not valid percent-encoding');
    }
    if (url.hostname === '') throw new ConfigError('DATABASE_URL', 'has no host');
    if (database === '' || database.includes('/')) {
      throw new ConfigError('DATABASE_URL', 'must name one database, as in mysql://user:pass@host:3306/mdm');
    }
    return { driver: 'mysql', url: url.toString(), database };
  }
  throw new ConfigError('DATABASE_URL', 'must start with sqlite: or mysql://');
}

/** A base64 32-byte key, or what is wrong with it. */
function decodeKey(raw: string): Buffer | string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) return 'must be base64 (generate one with: openssl rand -base64 32)';
  const key = Buffer.from(raw, 'base64');
  return key.length === 32 ? key : `must decode to 32 bytes, got ${key.length}`;
}

function parseSecretsKey(raw: string | undefined): Buffer | undefined {
  if (raw === undefined) return undefined;
  const key = decodeKey(raw);
  if (typeof key === 'string') throw new ConfigError('SECRETS_KEY', key);
  return key;
}

/** An IPv4 or IPv6 literal, or a host name that resolves to the one address to bind. */
function parseHost(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const host = raw.replace(/^\[(.*)\]$/, '$1');
  if (
    isIP(host) === 0 &&
    !/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(
      host,
    )
  ) {
    throw new ConfigError('HOST', `must be an IP address or a host name, got "${raw}"`);
  }
  return host;
}

/** Comma-separated base64 keys; a bad entry is named by its position, never echoed (it is a secret). */
function parsePreviousKeys(raw: string | undefined): Buffer[] {
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '')
    .map((k, i) => {
      const key = decodeKey(k);
      if (typeof key === 'string') throw new ConfigError('SECRETS_PREVIOUS_KEYS', `entry ${i + 1} ${key}`);
      return key;
    });
}

/** METRICS_PORT: unset, or a port of its own (0: any free one), never the device port. */
function parseMetricsPort(env: Env, port: number): number | undefined {
  if (value(env, 'METRICS_PORT') === undefined) return undefined;
  const metricsPort = integer(env, 'METRICS_PORT', 0, 0, 65535);
  if (metricsPort !== 0 && metricsPort === port) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (${port}): metrics are never served to devices`);
  }
  return metricsPort;
}

function parsePushTopics(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const topics = raw
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  for (const topic of topics) {
    if (!topic.startsWith(PUSH_TOPIC_PREFIX) || topic.length === PUSH_TOPIC_PREFIX.length) {
      throw new ConfigError('PUSH_TOPICS', `entry "${topic}" must start with ${PUSH_TOPIC_PREFIX} and have a suffix`);
    }
  }
  return topics;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function file(env: Env, name: string, cwd: string): string | undefined {
  const raw = value(env, name);
  return raw === undefined ? undefined : isAbsolute(raw) ? raw : resolve(cwd, raw);
}

function deviceIdentityConfig(env: Env, cwd: string, production: boolean): DeviceIdentityConfig {
  const mode = oneOf<DeviceAuthMode>(env, 'DEVICE_AUTH', ['signature', 'header', 'none'], 'signature');
  if (mode === 'none' && production) {
    throw new ConfigError(
      'DEVICE_AUTH',
      'cannot be "none" when NODE_ENV=production: anyone could enroll or impersonate a device',
    );
  }
  const caFile = file(env, 'DEVICE_CA_FILE', cwd);
  if (mode !== 'none' && production && caFile === undefined) {
    throw new ConfigError('DEVICE_CA_FILE', `is required when NODE_ENV=production and DEVICE_AUTH=${mode}`);
  }
  const header = (value(env, 'DEVICE_CERT_HEADER') ?? 'Client-Cert').toLowerCase();
  if (!/^[a-z0-9-]+$/.test(header))
    throw new ConfigError('DEVICE_CERT_HEADER', `is not a valid header name: "${header}"`);
  return {
    mode,
    caFile,
    intermediatesFile: file(env, 'DEVICE_INTERMEDIATES_FILE', cwd),
    certHeader: header,
    clockSkewSeconds: integer(env, 'DEVICE_CLOCK_SKEW_SECONDS', 300, 0, 7 * 24 * 3600),
    bindRetroactively: boolean(env, 'DEVICE_CERT_BIND_RETRO', false),
    certMatch: oneOf<DeviceCertMatch>(env, 'DEVICE_CERT_MATCH', ['none', 'udid', 'serial', 'udid-or-serial'], 'none'),
  };
}

function maidConfig(env: Env, cwd: string): MaidConfig | undefined {
  const serverUuid = value(env, 'MAID_SERVER_UUID');
  const signingKeyFile = file(env, 'MAID_SIGNING_KEY_FILE', cwd);
  const signingCertFile = file(env, 'MAID_SIGNING_CERT_FILE', cwd);
  if (serverUuid === undefined && signingKeyFile === undefined && signingCertFile === undefined) return undefined;
  if (serverUuid === undefined)
    throw new ConfigError('MAID_SERVER_UUID', 'is required when the com.apple.maid key or certificate is set');
  if (signingKeyFile === undefined)
    throw new ConfigError('MAID_SIGNING_KEY_FILE', 'is required when MAID_SERVER_UUID is set');
  if (signingCertFile === undefined)
    throw new ConfigError('MAID_SIGNING_CERT_FILE', 'is required when MAID_SERVER_UUID is set');
  return { serverUuid, signingKeyFile, signingCertFile };
}

function userAuthenticateConfig(env: Env, cwd: string, production: boolean): UserAuthenticateConfig {
  const policy = oneOf<UserAuthenticatePolicy>(
    env,
    'USER_AUTHENTICATE_POLICY',
    ['decline', 'challenge', 'allow'],
    'decline',
  );
  const authenticatorModule = file(env, 'USER_AUTHENTICATOR_MODULE', cwd);
  // The built-in authenticator accepts every password: in production it would hand an
  // AuthToken to anyone who can type a user name.
  if (production && policy === 'challenge' && authenticatorModule === undefined) {
    throw new ConfigError(
      'USER_AUTHENTICATOR_MODULE',
      'is required when NODE_ENV=production and USER_AUTHENTICATE_POLICY=challenge (the built-in authenticator accepts every password)',
    );
  }
  return {
    policy,
    challengeTtlSeconds: integer(env, 'USER_AUTHENTICATE_CHALLENGE_TTL_SECONDS', 300, 1, 24 * 3600),
    authTokenCheck: boolean(env, 'USER_AUTH_TOKEN_CHECK', policy === 'challenge'),
    authenticatorModule,
  };
}

/** Reads and checks the whole configuration; throws a {@link ConfigError} naming the first bad variable. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): AppConfig {
  const production = value(env, 'NODE_ENV') === 'production';
  const adminApiKey = value(env, 'ADMIN_API_KEY');
  if (adminApiKey !== undefined && adminApiKey.length < 16) {
    throw new ConfigError('ADMIN_API_KEY', 'must be at least 16 characters long');
  }
  // The example manifests say CHANGE-ME; a key copied from them is known to everyone.
  if (adminApiKey !== undefined && /^change-?me/i.test(adminApiKey)) {
    throw new ConfigError('ADMIN_API_KEY', 'is still the placeholder from the examples (openssl rand -base64 32)');
  }
  const secretsKey = parseSecretsKey(value(env, 'SECRETS_KEY'));
  if (production && secretsKey === undefined) {
    throw new ConfigError('SECRETS_KEY', 'is required when NODE_ENV=production (openssl rand -base64 32)');
  }
  const dataDirRaw = value(env, 'DATA_DIR') ?? './data';
  const port = integer(env, 'PORT', 8080, 0, 65535);
  return {
    production,
    port,
    host: parseHost(value(env, 'HOST')),
    metricsPort: parseMetricsPort(env, port),
    database: parseDatabaseUrl(value(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL, cwd),
    dataDir: isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw),
    adminApiKey,
    apiDocs: oneOf(env, 'API_DOCS', ['on', 'off'], 'on') === 'on',
    checkinMaxBodyBytes: integer(env, 'CHECKIN_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    pushTopics: parsePushTopics(value(env, 'PUSH_TOPICS')),
    secretsKey,
    secretsPreviousKeys: parsePreviousKeys(value(env, 'SECRETS_PREVIOUS_KEYS')),
    databaseTimeoutMs: integer(env, 'DATABASE_TIMEOUT_MS', 5000, 100, 600_000),
    logLevel: oneOf<LogLevel>(env, 'LOG_LEVEL', ['error', 'warn', 'info', 'debug'], 'info'),
    logFormat: oneOf<LogFormat>(env, 'LOG_FORMAT', ['json', 'text'], production ? 'json' : 'text'),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 500),
    deviceIdentity: deviceIdentityConfig(env, cwd, production),
    maid: maidConfig(env, cwd),
    userAuthenticate: userAuthenticateConfig(env, cwd, production),
    watchPairing: {
      signingKeyFile: file(env, 'WATCH_PAIRING_KEY_FILE', cwd),
      verifyKeysFile: file(env, 'WATCH_PAIRING_VERIFY_KEYS_FILE', cwd),
      ttlSeconds: integer(env, 'WATCH_PAIRING_TTL_SECONDS', 600, 30, 24 * 3600),
    },
  };
}

/**
 * For the command-line entry points: the configuration, or a one-line error naming the bad
 * variable and exit code 78 (EX_CONFIG).
 */
export function loadConfigOrExit(env: Env = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return exitOnConfigError(err, env);
  }
}

/**
 * Ends the process for a configuration problem: one line naming the variable (JSON in
 * production, text otherwise), no stack trace, exit code 78 (EX_CONFIG).
 */
export function exitOnConfigError(err: ConfigError, env: Env = process.env): never {
  const line =
    value(env, 'NODE_ENV') === 'production'
      ? JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: err.message, variable: err.variable })
      : `${new Date().toISOString()} ERROR ${err.message}`;
  process.stdout.write(`${line}\n`);
  process.exit(78);
}
