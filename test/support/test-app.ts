import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { appOptions, buildRootModule, configureApp } from '../../src/app.factory.js';
import { loadConfig } from '../../src/config/config.js';
import type { AppConfig } from '../../src/config/config.js';
import { AppLogger } from '../../src/logging/app-logger.js';
import { MetricsServer } from '../../src/metrics/metrics.server.js';
import { loadOrCreateDevCa } from '../../src/device-identity/dev-ca.js';
import type { CertificateAuthority } from '../../src/device-identity/dev-ca.js';
import { DeviceSigner, registerSigner } from './device.js';
import { createTestDatabase } from './test-db.js';
import type { TestDatabase } from './test-db.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';
export const TOPIC = 'com.apple.mgmt.External.0c3b5d2e-3f6a-4b8e-9d41-2a7c8e5f1b90';

/** Every log line the app wrote, parsed, so tests can search them (and check no secret leaks). */
export class CapturedLogs {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  entries(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  text(): string {
    return this.lines.join('');
  }
}

export interface TestApp {
  readonly url: string;
  readonly app: NestExpressApplication;
  readonly config: AppConfig;
  readonly db: TestDatabase;
  readonly dataSource: DataSource;
  readonly logs: CapturedLogs;
  /** `http://127.0.0.1:<port>/metrics` when METRICS_PORT is set, as main.ts serves it. */
  readonly metricsUrl: string | undefined;
  /** Signs messages as the devices would; undefined when DEVICE_AUTH=none. */
  readonly signer: DeviceSigner | undefined;
  close(): Promise<void>;
}

/** A provider of the application replaced by a test's own value (`overrideProvider(provide).useValue(useValue)`). */
export interface ProviderOverride {
  readonly provide: unknown;
  readonly useValue: unknown;
}

export interface StartOptions {
  /** The CA whose identities the devices use (when the test configures DEVICE_CA_FILE itself). */
  ca?: CertificateAuthority;
  /**
   * Fakes for parts outside the service (a directory, ...). Everything else stays real: the
   * start-up checks, the database, the HTTP server.
   */
  overrides?: readonly ProviderOverride[];
}

/**
 * The real application on a real HTTP port and a fresh real database, built as main.ts builds
 * it (the same root module after the same start-up checks, the same application settings) but
 * through `Test.createTestingModule`, so that a test can override providers.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  db?: TestDatabase,
  options: StartOptions = {},
): Promise<TestApp> {
  const database = db ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    DATA_DIR: database.dataDir,
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: 'debug',
    LOG_FORMAT: 'json',
    ...env,
  });
  const logs = new CapturedLogs();
  const logger = new AppLogger(config.logLevel, config.logFormat, logs);
  const builder = Test.createTestingModule({ imports: [await buildRootModule(config, logger)] }).setLogger(logger);
  for (const { provide, useValue } of options.overrides ?? []) builder.overrideProvider(provide).useValue(useValue);
  const moduleRef = await builder.compile();
  const app = configureApp(moduleRef.createNestApplication<NestExpressApplication>(appOptions(logger)), config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const metrics = app.get(MetricsServer);
  await metrics.listen();
  const metricsAddress = metrics.address();
  const id = config.deviceIdentity;
  let signer: DeviceSigner | undefined;
  if (id.mode !== 'none') {
    // Without DEVICE_CA_FILE the server made its development CA in DATA_DIR: the devices get theirs from it.
    const ca = options.ca ?? (await loadOrCreateDevCa(config.dataDir)).ca;
    signer = new DeviceSigner(ca, id.mode, id.certHeader);
    registerSigner(url, signer);
  }
  return {
    url,
    signer,
    app,
    config,
    db: database,
    dataSource: app.get(DataSource),
    logs,
    metricsUrl: metricsAddress === undefined ? undefined : `http://127.0.0.1:${metricsAddress.port}/metrics`,
    close: async () => {
      registerSigner(url, undefined);
      await app.close();
      if (db === undefined) await database.drop();
    },
  };
}
