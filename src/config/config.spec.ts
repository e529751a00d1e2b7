import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_DATABASE_URL, PUSH_TOPIC_PREFIX, loadConfig, parseDatabaseUrl } from './config.js';
import type { AppConfig } from './config.js';

const CWD = '/srv/mdm';
const KEY = randomBytes(32);
const KEY_B64 = KEY.toString('base64');

function load(env: Record<string, string | undefined>): AppConfig {
  return loadConfig(env, CWD);
}

/** Asserts that `fn` throws a ConfigError naming `variable`, in `.variable` and in the message. */
function assertConfigError(fn: () => unknown, variable: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.name, 'ConfigError');
    assert.equal(err.variable, variable);
    assert.ok(err.message.startsWith(`Invalid configuration: ${variable} `), err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

describe('loadConfig defaults', () => {
  it('uses every default outside production', () => {
    const config = load({});
    assert.deepStrictEqual(config, {
      production: false,
      port: 8080,
      host: undefined,
      metricsPort: undefined,
      database: { driver: 'sqlite', path: resolve(CWD, 'data/mdm.sqlite') },
      dataDir: resolve(CWD, 'data'),
      adminApiKey: undefined,
      apiDocs: true,
      checkinMaxBodyBytes: 1024 * 1024,
      pushTopics: [],
      secretsKey: undefined,
      secretsPreviousKeys: [],
      databaseTimeoutMs: 5000,
      logLevel: 'info',
      logFormat: 'text',
      databasePoolSize: 10,
      deviceIdentity: {
        mode: 'signature',
        caFile: undefined,
        intermediatesFile: undefined,
        certHeader: 'client-cert',
        clockSkewSeconds: 300,
        bindRetroactively: false,
        certMatch: 'none',
      },
      maid: undefined,
      watchPairing: { signingKeyFile: undefined, verifyKeysFile: undefined, ttlSeconds: 600 },
      userAuthenticate: {
        policy: 'decline',
        challengeTtlSeconds: 300,
        authTokenCheck: false,
        authenticatorModule: undefined,
      },
    });
    assert.equal(DEFAULT_DATABASE_URL, 'sqlite:./data/mdm.sqlite');
  });

  it('resolves the default SQLite path and data directory against the given cwd', () => {
    const config = loadConfig({}, '/other/place');
    assert.deepStrictEqual(config.database, { driver: 'sqlite', path: '/other/place/data/mdm.sqlite' });
    assert.equal(config.dataDir, '/other/place/data');
  });

  it('logs JSON in production', () => {
    const config = load({ NODE_ENV: 'production', SECRETS_KEY: KEY_B64, DEVICE_CA_FILE: '/etc/mdm/ca.pem' });
    assert.equal(config.production, true);
    assert.equal(config.logFormat, 'json');
    assert.deepStrictEqual(config.secretsKey, KEY);
  });

  it('lets LOG_FORMAT override the default in either direction', () => {
    assert.equal(
      load({ NODE_ENV: 'production', SECRETS_KEY: KEY_B64, DEVICE_CA_FILE: '/etc/mdm/ca.pem', LOG_FORMAT: 'text' })
        .logFormat,
      'text',
    );
    assert.equal(load({ LOG_FORMAT: 'json' }).logFormat, 'json');
    assert.equal(load({ LOG_FORMAT: 'JSON' }).logFormat, 'json');
  });

  it('is not production for other NODE_ENV values', () => {
    for (const NODE_ENV of ['development', 'test', 'prod']) {
      const config = load({ NODE_ENV });
      assert.equal(config.production, false, NODE_ENV);
      assert.equal(config.logFormat, 'text', NODE_ENV);
    }
  });

  it('treats empty and blank variables as unset and trims values', () => {
    const config = load({
      PORT: '',
      DATABASE_URL: '   ',
      ADMIN_API_KEY: ' ',
      SECRETS_KEY: '',
      LOG_LEVEL: '\t',
      PUSH_TOPICS: '',
    });
    assert.equal(config.port, 8080);
    assert.deepStrictEqual(config.database, { driver: 'sqlite', path: resolve(CWD, 'data/mdm.sqlite') });
    assert.equal(config.adminApiKey, undefined);
    assert.equal(config.secretsKey, undefined);
    assert.equal(config.logLevel, 'info');
    assert.deepStrictEqual(config.pushTopics, []);
    assert.equal(load({ PORT: ' 9000 ' }).port, 9000);
  });
});

describe('loadConfig values', () => {
  it('reads PORT across its whole range', () => {
    assert.equal(load({ PORT: '0' }).port, 0);
    assert.equal(load({ PORT: '443' }).port, 443);
    assert.equal(load({ PORT: '65535' }).port, 65535);
  });

  it('reads DATA_DIR, relative or absolute', () => {
    assert.equal(load({ DATA_DIR: 'var/state' }).dataDir, resolve(CWD, 'var/state'));
    assert.equal(load({ DATA_DIR: '/var/lib/mdm' }).dataDir, '/var/lib/mdm');
  });

  it('reads ADMIN_API_KEY of at least 16 characters', () => {
    assert.equal(load({ ADMIN_API_KEY: '0123456789abcdef' }).adminApiKey, '0123456789abcdef');
    assert.equal(load({ ADMIN_API_KEY: '  0123456789abcdef  ' }).adminApiKey, '0123456789abcdef');
  });

  it('reads SECRETS_PREVIOUS_KEYS as a comma-separated list of keys, blanks ignored', () => {
    const older = randomBytes(32);
    assert.deepStrictEqual(
      load({ SECRETS_PREVIOUS_KEYS: ` ${KEY_B64} ,, ${older.toString('base64')},` }).secretsPreviousKeys,
      [KEY, older],
    );
    assert.equal(load({ DATABASE_TIMEOUT_MS: '750' }).databaseTimeoutMs, 750);
  });

  it('reads SECRETS_KEY as 32 raw bytes, with or without padding', () => {
    assert.deepStrictEqual(load({ SECRETS_KEY: KEY_B64 }).secretsKey, KEY);
    assert.deepStrictEqual(load({ SECRETS_KEY: KEY_B64.replace(/=+$/, '') }).secretsKey, KEY);
  });

  it('reads PUSH_TOPICS as a comma-separated list, skipping blanks', () => {
    const config = load({ PUSH_TOPICS: ' com.apple.mgmt.External.a , ,com.apple.mgmt.b,' });
    assert.deepStrictEqual(config.pushTopics, ['com.apple.mgmt.External.a', 'com.apple.mgmt.b']);
    assert.equal(PUSH_TOPIC_PREFIX, 'com.apple.mgmt.');
  });

  it('reads LOG_LEVEL case-insensitively', () => {
    for (const level of ['error', 'warn', 'info', 'debug'] as const) {
      assert.equal(load({ LOG_LEVEL: level }).logLevel, level);
      assert.equal(load({ LOG_LEVEL: level.toUpperCase() }).logLevel, level);
    }
  });

  it('reads CHECKIN_MAX_BODY_BYTES at both ends of its range', () => {
    assert.equal(load({ CHECKIN_MAX_BODY_BYTES: '1024' }).checkinMaxBodyBytes, 1024);
    assert.equal(load({ CHECKIN_MAX_BODY_BYTES: String(64 * 1024 * 1024) }).checkinMaxBodyBytes, 64 * 1024 * 1024);
  });

  it('reads DATABASE_POOL_SIZE', () => {
    assert.equal(load({ DATABASE_POOL_SIZE: '1' }).databasePoolSize, 1);
    assert.equal(load({ DATABASE_POOL_SIZE: '500' }).databasePoolSize, 500);
  });

  it('passes DATABASE_URL through parseDatabaseUrl with the same cwd', () => {
    assert.deepStrictEqual(load({ DATABASE_URL: 'sqlite:db/x.sqlite' }).database, {
      driver: 'sqlite',
      path: resolve(CWD, 'db/x.sqlite'),
    });
    assert.deepStrictEqual(load({ DATABASE_URL: 'mysql://u:p@db:3306/mdm' }).database, {
      driver: 'mysql',
      url: 'mysql://u:p@db:3306/mdm',
      database: 'mdm',
    });
  });
});

describe('parseDatabaseUrl', () => {
  it('resolves relative SQLite paths against cwd', () => {
    assert.deepStrictEqual(parseDatabaseUrl('sqlite:./data/mdm.sqlite', CWD), {
      driver: 'sqlite',
      path: resolve(CWD, 'data/mdm.sqlite'),
    });
    assert.deepStrictEqual(parseDatabaseUrl('sqlite:mdm.sqlite', '/a/b'), {
      driver: 'sqlite',
      path: '/a/b/mdm.sqlite',
    });
    assert.deepStrictEqual(parseDatabaseUrl('sqlite://./rel/x.db', CWD), {
      driver: 'sqlite',
      path: resolve(CWD, 'rel/x.db'),
    });
    assert.deepStrictEqual(parseDatabaseUrl('sqlite:../up.db', '/a/b'), { driver: 'sqlite', path: '/a/up.db' });
  });

  it('keeps absolute SQLite paths', () => {
    assert.deepStrictEqual(parseDatabaseUrl('sqlite:/var/lib/mdm/mdm.sqlite', CWD), {
      driver: 'sqlite',
      path: '/var/lib/mdm/mdm.sqlite',
    });
    assert.deepStrictEqual(parseDatabaseUrl('sqlite:///var/lib/mdm/mdm.sqlite', CWD), {
      driver: 'sqlite',
      path: '/var/lib/mdm/mdm.sqlite',
    });
  });

  it('keeps an in-memory SQLite database as is', () => {
    assert.deepStrictEqual(parseDatabaseUrl('sqlite::memory:', CWD), { driver: 'sqlite', path: ':memory:' });
  });

  it('parses mysql:// URLs and names the database', () => {
    assert.deepStrictEqual(parseDatabaseUrl('mysql://mdm:s3cret@db.example.com:3306/mdm', CWD), {
      driver: 'mysql',
      url: 'mysql://mdm:s3cret@db.example.com:3306/mdm',
      database: 'mdm',
    });
    const withOptions = parseDatabaseUrl('mysql://root@127.0.0.1/test?charset=utf8mb4', CWD);
    assert.equal(withOptions.driver, 'mysql');
    assert.ok(withOptions.driver === 'mysql' && withOptions.database === 'test');
    assert.ok(withOptions.driver === 'mysql' && withOptions.url.endsWith('?charset=utf8mb4'));
  });

  it('decodes a percent-encoded database name', () => {
    const config = parseDatabaseUrl('mysql://u@h/my%2Ddb', CWD);
    assert.ok(config.driver === 'mysql');
    assert.equal(config.database, 'my-db');
  });

  it('accepts mariadb:// as mysql://', () => {
    assert.deepStrictEqual(parseDatabaseUrl('mariadb://mdm:pw@maria:3307/mdm_prod', CWD), {
      driver: 'mysql',
      url: 'mysql://mdm:pw@maria:3307/mdm_prod',
      database: 'mdm_prod',
    });
  });

  it('uses process.cwd() when no cwd is given', () => {
    assert.deepStrictEqual(parseDatabaseUrl('sqlite:x.db'), { driver: 'sqlite', path: resolve(process.cwd(), 'x.db') });
  });
});

describe('loadConfig errors name the variable', () => {
  it('PORT that is not a whole number or out of range', () => {
    for (const PORT of ['abc', '-1', '80.5', '1e3', '0x50', '8080a']) {
      assertConfigError(() => load({ PORT }), 'PORT', /whole number/);
    }
    for (const PORT of ['65536', '99999999999999999999']) {
      assertConfigError(() => load({ PORT }), 'PORT', /between 0 and 65535/);
    }
  });

  it('DATABASE_URL with an unknown scheme', () => {
    for (const DATABASE_URL of ['postgres://u@h/db', 'mdm.sqlite', 'SQLITE:x.db', 'mysql:/h/db', 'http://h/db']) {
      assertConfigError(() => load({ DATABASE_URL }), 'DATABASE_URL', /must start with sqlite: or mysql:\/\//);
    }
  });

  it('DATABASE_URL with an empty SQLite path', () => {
    assertConfigError(() => load({ DATABASE_URL: 'sqlite:' }), 'DATABASE_URL', /empty SQLite path/);
    assertConfigError(() => load({ DATABASE_URL: 'sqlite://' }), 'DATABASE_URL', /empty SQLite path/);
  });

  it('DATABASE_URL for MySQL without exactly one database', () => {
    for (const DATABASE_URL of ['mysql://u:p@db:3306', 'mysql://u:p@db:3306/', 'mariadb://db/', 'mysql://db/a/b']) {
      assertConfigError(() => load({ DATABASE_URL }), 'DATABASE_URL', /must name one database/);
    }
  });

  it('DATABASE_URL for MySQL without a host', () => {
    assertConfigError(() => load({ DATABASE_URL: 'mysql:///mdm' }), 'DATABASE_URL', /no host/);
  });

  it('DATABASE_URL that is not a URL at all', () => {
    assertConfigError(() => load({ DATABASE_URL: 'mysql://[::1/mdm' }), 'DATABASE_URL', /not a valid mysql:\/\/ URL/);
    assertConfigError(() => load({ DATABASE_URL: 'mysql://u@h:notaport/mdm' }), 'DATABASE_URL');
  });

  it('DATABASE_URL whose database name is not valid percent-encoding', () => {
    assertConfigError(() => load({ DATABASE_URL: 'mysql://u@h/%E0%A4%A' }), 'DATABASE_URL', /percent-encoding/);
    assertConfigError(() => load({ DATABASE_URL: 'mysql://u@h/%ZZ' }), 'DATABASE_URL', /percent-encoding/);
  });

  it('SECRETS_KEY that is not base64', () => {
    for (const SECRETS_KEY of ['not base64!', 'a-b_c-d_e-f_g-h_i-j_k-l_m-n_o-p_q-r_s-t_u-v_w-', '====', 'abc=def']) {
      assertConfigError(() => load({ SECRETS_KEY }), 'SECRETS_KEY', /must be base64/);
    }
  });

  it('SECRETS_KEY that is not 32 bytes', () => {
    for (const length of [1, 16, 31, 33, 64]) {
      const SECRETS_KEY = randomBytes(length).toString('base64');
      assertConfigError(() => load({ SECRETS_KEY }), 'SECRETS_KEY', new RegExp(`32 bytes, got ${length}$`));
    }
  });

  it('SECRETS_PREVIOUS_KEYS with a bad entry, named by position and never echoed', () => {
    const bad = randomBytes(16).toString('base64');
    assertConfigError(
      () => load({ SECRETS_PREVIOUS_KEYS: `${KEY_B64}, ${bad}` }),
      'SECRETS_PREVIOUS_KEYS',
      /entry 2 must decode to 32 bytes, got 16$/,
    );
    assertConfigError(
      () => load({ SECRETS_PREVIOUS_KEYS: 'not base64!' }),
      'SECRETS_PREVIOUS_KEYS',
      /entry 1 must be base64/,
    );
  });

  it('DATABASE_TIMEOUT_MS out of range', () => {
    assertConfigError(() => load({ DATABASE_TIMEOUT_MS: '50' }), 'DATABASE_TIMEOUT_MS', /between 100 and 600000/);
    assertConfigError(() => load({ DATABASE_TIMEOUT_MS: '5s' }), 'DATABASE_TIMEOUT_MS', /whole number/);
  });

  it('production without SECRETS_KEY', () => {
    assertConfigError(() => load({ NODE_ENV: 'production' }), 'SECRETS_KEY', /required when NODE_ENV=production/);
    assertConfigError(() => load({ NODE_ENV: ' production ', SECRETS_KEY: ' ' }), 'SECRETS_KEY', /required/);
  });

  it('ADMIN_API_KEY shorter than 16 characters', () => {
    assertConfigError(() => load({ ADMIN_API_KEY: '0123456789abcde' }), 'ADMIN_API_KEY', /at least 16/);
    assertConfigError(() => load({ ADMIN_API_KEY: 'short' }), 'ADMIN_API_KEY', /at least 16/);
    // Trimmed before the length check.
    assertConfigError(() => load({ ADMIN_API_KEY: '   0123456789   ' }), 'ADMIN_API_KEY');
  });

  it('ADMIN_API_KEY left at the CHANGE-ME placeholder of the examples', () => {
    for (const key of ['CHANGE-ME-openssl-rand-base64-32', 'changeme-changeme-changeme', 'Change-Me-0123456789']) {
      assertConfigError(() => load({ ADMIN_API_KEY: key }), 'ADMIN_API_KEY', /placeholder/);
    }
    assert.equal(load({ ADMIN_API_KEY: 'please-CHANGE-ME-never' }).adminApiKey, 'please-CHANGE-ME-never');
  });

  it('HOST: an IP address or a host name; unset listens everywhere', () => {
    assert.equal(load({}).host, undefined);
    assert.equal(load({ HOST: '127.0.0.1' }).host, '127.0.0.1');
    assert.equal(load({ HOST: '::1' }).host, '::1');
    assert.equal(load({ HOST: '[::]' }).host, '::');
    assert.equal(load({ HOST: 'checkin.internal' }).host, 'checkin.internal');
    for (const bad of ['http://0.0.0.0', '127.0.0.1:8080', 'a b', '-bad.example']) {
      assertConfigError(() => load({ HOST: bad }), 'HOST', /IP address or a host name/);
    }
  });

  it('METRICS_PORT: unset serves no metrics; a port of its own, never PORT', () => {
    assert.equal(load({}).metricsPort, undefined);
    assert.equal(load({ METRICS_PORT: ' ' }).metricsPort, undefined);
    assert.equal(load({ METRICS_PORT: '9090' }).metricsPort, 9090);
    assert.equal(load({ PORT: '0', METRICS_PORT: '0' }).metricsPort, 0);
    for (const bad of ['abc', '-1', '90.5', '0x2382']) {
      assertConfigError(() => load({ METRICS_PORT: bad }), 'METRICS_PORT', /whole number/);
    }
    assertConfigError(() => load({ METRICS_PORT: '65536' }), 'METRICS_PORT', /between 0 and 65535/);
    assertConfigError(() => load({ METRICS_PORT: '8080' }), 'METRICS_PORT', /must differ from PORT \(8080\)/);
    assertConfigError(() => load({ PORT: '9090', METRICS_PORT: '9090' }), 'METRICS_PORT', /must differ from PORT/);
  });

  it('PUSH_TOPICS with an entry outside com.apple.mgmt.', () => {
    assertConfigError(
      () => load({ PUSH_TOPICS: 'com.apple.mgmt.ok,com.example.push' }),
      'PUSH_TOPICS',
      /entry "com\.example\.push" must start with com\.apple\.mgmt\./,
    );
    assertConfigError(() => load({ PUSH_TOPICS: 'com.apple.mgmt.' }), 'PUSH_TOPICS', /have a suffix/);
    assertConfigError(() => load({ PUSH_TOPICS: 'COM.APPLE.MGMT.x' }), 'PUSH_TOPICS');
  });

  it('LOG_LEVEL and LOG_FORMAT outside their allowed values', () => {
    for (const LOG_LEVEL of ['trace', 'verbose', 'warning', 'fatal']) {
      assertConfigError(() => load({ LOG_LEVEL }), 'LOG_LEVEL', /must be one of error, warn, info, debug/);
    }
    assertConfigError(() => load({ LOG_FORMAT: 'yaml' }), 'LOG_FORMAT', /must be one of json, text/);
  });

  it('API_DOCS is on or off', () => {
    assert.equal(load({ API_DOCS: 'off' }).apiDocs, false);
    assert.equal(load({ API_DOCS: 'ON' }).apiDocs, true);
    assertConfigError(() => load({ API_DOCS: 'yes' }), 'API_DOCS', /must be one of on, off/);
  });

  it('CHECKIN_MAX_BODY_BYTES out of range or not a number', () => {
    for (const value of ['1023', '0', String(64 * 1024 * 1024 + 1)]) {
      assertConfigError(() => load({ CHECKIN_MAX_BODY_BYTES: value }), 'CHECKIN_MAX_BODY_BYTES', /between 1024 and/);
    }
    assertConfigError(() => load({ CHECKIN_MAX_BODY_BYTES: '1MB' }), 'CHECKIN_MAX_BODY_BYTES', /whole number/);
  });

  it('DATABASE_POOL_SIZE out of range', () => {
    assertConfigError(() => load({ DATABASE_POOL_SIZE: '0' }), 'DATABASE_POOL_SIZE', /between 1 and 500/);
    assertConfigError(() => load({ DATABASE_POOL_SIZE: '501' }), 'DATABASE_POOL_SIZE', /between 1 and 500/);
  });

  it('parseDatabaseUrl throws the same ConfigError on its own', () => {
    assertConfigError(() => parseDatabaseUrl('redis://h', CWD), 'DATABASE_URL');
    assertConfigError(() => parseDatabaseUrl('mysql://h', CWD), 'DATABASE_URL');
  });

  it('ConfigError is an Error carrying the variable', () => {
    const err = new ConfigError('PORT', 'is wrong');
    assert.ok(err instanceof Error);
    assert.equal(err.variable, 'PORT');
    assert.equal(err.message, 'Invalid configuration: PORT is wrong');
  });
});

describe('device identity configuration', () => {
  it('reads every DEVICE_* variable', () => {
    const id = load({
      DEVICE_AUTH: 'header',
      DEVICE_CA_FILE: 'certs/ca.pem',
      DEVICE_INTERMEDIATES_FILE: '/etc/mdm/intermediates.pem',
      DEVICE_CERT_HEADER: 'X-SSL-Client-Cert',
      DEVICE_CLOCK_SKEW_SECONDS: '600',
      DEVICE_CERT_BIND_RETRO: 'true',
      DEVICE_CERT_MATCH: 'udid-or-serial',
    }).deviceIdentity;
    assert.deepStrictEqual(id, {
      mode: 'header',
      caFile: resolve(CWD, 'certs/ca.pem'),
      intermediatesFile: '/etc/mdm/intermediates.pem',
      certHeader: 'x-ssl-client-cert',
      clockSkewSeconds: 600,
      bindRetroactively: true,
      certMatch: 'udid-or-serial',
    });
    assertConfigError(() => load({ DEVICE_CERT_MATCH: 'cn' }), 'DEVICE_CERT_MATCH', /must be one of/);
  });

  it('refuses DEVICE_AUTH=none in production, and production without a CA', () => {
    assertConfigError(
      () => load({ NODE_ENV: 'production', SECRETS_KEY: KEY_B64, DEVICE_AUTH: 'none' }),
      'DEVICE_AUTH',
      /cannot be "none"/,
    );
    assertConfigError(() => load({ NODE_ENV: 'production', SECRETS_KEY: KEY_B64 }), 'DEVICE_CA_FILE', /required/);
    assert.equal(load({ DEVICE_AUTH: 'none' }).deviceIdentity.mode, 'none');
  });

  it('refuses bad values, naming the variable', () => {
    assertConfigError(() => load({ DEVICE_AUTH: 'maybe' }), 'DEVICE_AUTH');
    assertConfigError(() => load({ DEVICE_CERT_HEADER: 'bad header' }), 'DEVICE_CERT_HEADER');
    assertConfigError(() => load({ DEVICE_CLOCK_SKEW_SECONDS: '-1' }), 'DEVICE_CLOCK_SKEW_SECONDS');
    assertConfigError(() => load({ DEVICE_CERT_BIND_RETRO: 'sometimes' }), 'DEVICE_CERT_BIND_RETRO');
  });
});

describe('UserAuthenticate configuration', () => {
  const PROD = { NODE_ENV: 'production', SECRETS_KEY: KEY_B64, DEVICE_CA_FILE: '/etc/mdm/ca.pem' };

  it('checks AuthTokens by default only when it hands them out (challenge)', () => {
    assert.equal(load({ USER_AUTHENTICATE_POLICY: 'challenge' }).userAuthenticate.authTokenCheck, true);
    assert.equal(load({ USER_AUTHENTICATE_POLICY: 'allow' }).userAuthenticate.authTokenCheck, false);
    assert.equal(
      load({ USER_AUTHENTICATE_POLICY: 'challenge', USER_AUTH_TOKEN_CHECK: 'false' }).userAuthenticate.authTokenCheck,
      false,
    );
    assert.deepStrictEqual(
      load({
        USER_AUTHENTICATE_POLICY: 'Allow',
        USER_AUTHENTICATE_CHALLENGE_TTL_SECONDS: '60',
        USER_AUTH_TOKEN_CHECK: 'yes',
        USER_AUTHENTICATOR_MODULE: 'plugins/ldap.js',
      }).userAuthenticate,
      {
        policy: 'allow',
        challengeTtlSeconds: 60,
        authTokenCheck: true,
        authenticatorModule: resolve(CWD, 'plugins/ldap.js'),
      },
    );
  });

  it('refuses challenge in production without an authenticator module, and bad values', () => {
    assertConfigError(
      () => load({ ...PROD, USER_AUTHENTICATE_POLICY: 'challenge' }),
      'USER_AUTHENTICATOR_MODULE',
      /required when NODE_ENV=production and USER_AUTHENTICATE_POLICY=challenge/,
    );
    assert.equal(
      load({ ...PROD, USER_AUTHENTICATE_POLICY: 'challenge', USER_AUTHENTICATOR_MODULE: '/opt/dir.js' })
        .userAuthenticate.authenticatorModule,
      '/opt/dir.js',
    );
    assert.equal(load({ ...PROD, USER_AUTHENTICATE_POLICY: 'allow' }).userAuthenticate.policy, 'allow');
    assertConfigError(() => load({ USER_AUTHENTICATE_POLICY: 'accept' }), 'USER_AUTHENTICATE_POLICY');
    assertConfigError(
      () => load({ USER_AUTHENTICATE_CHALLENGE_TTL_SECONDS: '0' }),
      'USER_AUTHENTICATE_CHALLENGE_TTL_SECONDS',
    );
    assertConfigError(() => load({ USER_AUTH_TOKEN_CHECK: 'maybe' }), 'USER_AUTH_TOKEN_CHECK');
  });
});
