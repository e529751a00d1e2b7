import { Test } from '@nestjs/testing';
import { ConfigService } from '@nestjs/config';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { SecretBox } from '../common/secret-box.js';
import { AppLogger } from '../logging/app-logger.js';
import { ConfigError, loadConfig } from './config.js';
import { AppConfigModule } from './config.module.js';
import {
  adminConfig,
  checkinConfig,
  databaseConfig,
  deviceIdentityConfig,
  enrollmentsConfig,
  tokensConfig,
  userChannelsConfig,
} from './namespaces.js';

const saved = { ...process.env };

afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

describe('configuration namespaces', () => {
  it('the application sees the environment it was built with, not process.env', async () => {
    // What the process has, which the application must not read.
    process.env.PUSH_TOPICS = 'com.apple.mgmt.from-process-env';
    process.env.CHECKIN_MAX_BODY_BYTES = '2048';
    const config = loadConfig({
      DATABASE_URL: 'sqlite::memory:',
      PUSH_TOPICS: 'com.apple.mgmt.given',
      CHECKIN_MAX_BODY_BYTES: '4096',
      DATABASE_TIMEOUT_MS: '1234',
      ADMIN_API_KEY: 'an-admin-key-of-the-test-0123',
      USER_AUTHENTICATE_POLICY: 'allow',
      DEVICE_CERT_MATCH: 'udid',
    });
    const moduleRef = await Test.createTestingModule({
      imports: [AppConfigModule.forRoot(config, new AppLogger('error'), new SecretBox(randomBytes(32)))],
    }).compile();
    try {
      assert.deepStrictEqual(moduleRef.get(enrollmentsConfig.KEY), { pushTopics: ['com.apple.mgmt.given'] });
      assert.deepStrictEqual(moduleRef.get(checkinConfig.KEY), { maxBodyBytes: 4096 });
      const db = moduleRef.get<{ timeoutMs: number; connection: { driver: string } }>(databaseConfig.KEY);
      assert.equal(db.timeoutMs, 1234);
      assert.equal(db.connection.driver, 'sqlite');
      assert.deepStrictEqual(moduleRef.get(adminConfig.KEY), { apiKey: 'an-admin-key-of-the-test-0123' });
      assert.equal(moduleRef.get<{ policy: string }>(userChannelsConfig.KEY).policy, 'allow');
      assert.equal(moduleRef.get<{ certMatch: string }>(deviceIdentityConfig.KEY).certMatch, 'udid');
      assert.deepStrictEqual(moduleRef.get<{ maid: unknown }>(tokensConfig.KEY).maid, undefined);
      // ConfigService answers from the same namespaces.
      const service = moduleRef.get(ConfigService);
      assert.deepStrictEqual(service.get('enrollments.pushTopics'), ['com.apple.mgmt.given']);
      assert.equal(service.get('checkin.maxBodyBytes'), 4096);
      assert.equal(service.get('PUSH_TOPICS'), undefined, 'process.env is not part of the configuration');
    } finally {
      await moduleRef.close();
    }
    assert.equal(process.env.PUSH_TOPICS, 'com.apple.mgmt.from-process-env', 'process.env was left alone');
    assert.equal(process.env.ADMIN_API_KEY, saved.ADMIN_API_KEY);
  });

  it('a namespace on its own reads process.env through the same validation', () => {
    process.env.DATABASE_TIMEOUT_MS = '2500';
    assert.equal(databaseConfig().timeoutMs, 2500);
    process.env.DATABASE_TIMEOUT_MS = '5';
    assert.throws(
      () => databaseConfig(),
      (err: unknown) => err instanceof ConfigError && err.variable === 'DATABASE_TIMEOUT_MS',
    );
  });

  it('slices the checked configuration without reading anything', () => {
    const config = loadConfig({ PUSH_TOPICS: 'com.apple.mgmt.a,com.apple.mgmt.b', WATCH_PAIRING_TTL_SECONDS: '60' });
    assert.deepStrictEqual(enrollmentsConfig.slice(config).pushTopics, ['com.apple.mgmt.a', 'com.apple.mgmt.b']);
    assert.equal(tokensConfig.slice(config).watchPairing.ttlSeconds, 60);
    assert.equal(deviceIdentityConfig.slice(config).dataDir, config.dataDir);
  });
});
