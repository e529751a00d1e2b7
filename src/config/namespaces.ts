import { registerAs } from '@nestjs/config';
import type { ConfigFactory, ConfigFactoryKeyHost } from '@nestjs/config';
import { loadConfig } from './config.js';
import type {
  AppConfig,
  DatabaseConfig,
  DeviceIdentityConfig,
  LogFormat,
  LogLevel,
  MaidConfig,
  UserAuthenticateConfig,
  WatchPairingConfig,
} from './config.js';

/**
 * A module's configuration namespace (`@nestjs/config`'s `registerAs`): injected with
 * `@Inject(xConfig.KEY) cfg: ConfigType<typeof xConfig>`. Its values are a slice of the one
 * checked {@link AppConfig}: loadConfig stays the single place where variables are read and
 * validated (exit code 78 naming the variable). The application loads every namespace from
 * the AppConfig it was built with (`of`), so a test's environment record is what the modules
 * see; called on its own, the namespace reads and checks process.env.
 */
export type Namespace<T extends object> = (() => T) &
  ConfigFactoryKeyHost<T> & {
    /** The namespace's values in `config`. */
    readonly slice: (config: AppConfig) => T;
    /** The namespace as a factory of `config`'s values, for `ConfigModule.forRoot({ load })`. */
    readonly of: (config: AppConfig) => (() => T) & ConfigFactoryKeyHost<T>;
  };

function namespace<T extends object>(name: string, slice: (config: AppConfig) => T): Namespace<T> {
  return Object.assign(
    registerAs(name, (): T => slice(loadConfig())),
    { slice, of: (config: AppConfig) => registerAs(name, (): T => slice(config)) },
  );
}

export interface DatabaseNamespace {
  readonly connection: DatabaseConfig;
  readonly poolSize: number;
  /** Bound on one query, on waiting for a connection or a lock, and on closing, ms. */
  readonly timeoutMs: number;
}

/** DATABASE_URL, DATABASE_POOL_SIZE, DATABASE_TIMEOUT_MS. */
export const databaseConfig = namespace('database', (c): DatabaseNamespace => ({
  connection: c.database,
  poolSize: c.databasePoolSize,
  timeoutMs: c.databaseTimeoutMs,
}));

/** CHECKIN_MAX_BODY_BYTES. */
export const checkinConfig = namespace('checkin', (c): { readonly maxBodyBytes: number } => ({
  maxBodyBytes: c.checkinMaxBodyBytes,
}));

/** PUSH_TOPICS (empty: any topic that starts with `com.apple.mgmt.`). */
export const enrollmentsConfig = namespace('enrollments', (c): { readonly pushTopics: readonly string[] } => ({
  pushTopics: c.pushTopics,
}));

export interface DeviceIdentityNamespace extends DeviceIdentityConfig {
  /** Where the development CA is kept when DEVICE_CA_FILE is not set. */
  readonly dataDir: string;
}

/** DEVICE_AUTH, DEVICE_CA_FILE, DEVICE_CERT_* and the others of device identity; DATA_DIR for the development CA. */
export const deviceIdentityConfig = namespace('deviceIdentity', (c): DeviceIdentityNamespace => ({
  ...c.deviceIdentity,
  dataDir: c.dataDir,
}));

/** MAID_* (GetToken `com.apple.maid`) and WATCH_PAIRING_*. */
export const tokensConfig = namespace(
  'tokens',
  (c): { readonly maid: MaidConfig | undefined; readonly watchPairing: WatchPairingConfig } => ({
    maid: c.maid,
    watchPairing: c.watchPairing,
  }),
);

/** USER_AUTHENTICATE_*, USER_AUTH_TOKEN_CHECK, USER_AUTHENTICATOR_MODULE. */
export const userChannelsConfig = namespace('userChannels', (c): UserAuthenticateConfig => c.userAuthenticate);

/** ADMIN_API_KEY (`undefined` turns the whole `/api` off). */
export const adminConfig = namespace('admin', (c): { readonly apiKey: string | undefined } => ({
  apiKey: c.adminApiKey,
}));

/** LOG_LEVEL, LOG_FORMAT. */
export const loggingConfig = namespace('logging', (c): { readonly level: LogLevel; readonly format: LogFormat } => ({
  level: c.logLevel,
  format: c.logFormat,
}));

/** Every namespace, loaded by the application's ConfigModule. */
/** METRICS_PORT (undefined: no metrics server), the HOST it binds, and the pool size the gauges report against. */
export const metricsConfig = namespace(
  'metrics',
  (c): { readonly port: number | undefined; readonly host: string | undefined; readonly poolSize: number } => ({
    port: c.metricsPort,
    host: c.host,
    poolSize: c.databasePoolSize,
  }),
);

export const CONFIG_NAMESPACES: readonly { readonly of: (config: AppConfig) => ConfigFactory }[] = [
  databaseConfig,
  metricsConfig,
  checkinConfig,
  enrollmentsConfig,
  deviceIdentityConfig,
  tokensConfig,
  userChannelsConfig,
  adminConfig,
  loggingConfig,
];
