import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { JwtModule } from '@nestjs/jwt';
import { Test } from '@nestjs/testing';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import type { ResolvedEnrollment } from '../checkin/enrollment-id.js';
import { loadConfig } from '../config/config.js';
import { tokensConfig } from '../config/namespaces.js';
import { EnrollmentsService } from '../enrollments/enrollments.service.js';
import { AppLogger } from '../logging/app-logger.js';
import { TokenReplayStore } from './token-replay.store.js';
import { WatchPairingTokenService } from './watch-pairing.token-service.js';

const PHONE = '00008030-001A2B3C4D5E6F70';
const WATCH = 'c3a1e9f0d2b84e6f9a7c5d3b1e0f2a4c6b8d0e1f';
const SECURITY = 'S3CUR1TY-T0KEN-from-the-watch';
const ENROLLMENT: ResolvedEnrollment = {
  id: PHONE,
  type: 'Device',
  channel: 'device',
  deviceId: PHONE,
  parentId: null,
};

/** The database-backed collaborators, in memory: an enrolled phone and a replay set. */
const enrollments = {
  enrollmentState: (id: string) => Promise.resolve(id === PHONE ? { enabled: true, tokenUpdateCount: 1 } : undefined),
};
class MemoryReplays {
  readonly seen = new Set<string>();
  claim(tokenId: string): Promise<boolean> {
    if (this.seen.has(tokenId)) return Promise.resolve(false);
    this.seen.add(tokenId);
    return Promise.resolve(true);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'mdm-watch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function serviceWith(
  key: KeyObject,
  name: string,
): Promise<{ service: WatchPairingTokenService; close: () => Promise<void> }> {
  const path = join(dir, `${name}.pem`);
  writeFileSync(path, key.export({ type: 'pkcs8', format: 'pem' }));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dir,
    WATCH_PAIRING_KEY_FILE: path,
    WATCH_PAIRING_TTL_SECONDS: '600',
  });
  const moduleRef = await Test.createTestingModule({
    imports: [JwtModule.register({})],
    providers: [
      WatchPairingTokenService,
      { provide: tokensConfig.KEY, useValue: tokensConfig.slice(config) },
      { provide: AppLogger, useValue: new AppLogger('error', 'json', { write: () => undefined }) },
      { provide: EnrollmentsService, useValue: enrollments },
      { provide: TokenReplayStore, useValue: new MemoryReplays() },
    ],
  }).compile();
  await moduleRef.init();
  return { service: moduleRef.get(WatchPairingTokenService), close: () => moduleRef.close() };
}

const decode = (part: string | undefined): string => Buffer.from(part ?? '', 'base64url').toString('utf8');

describe('WatchPairingTokenService signing', () => {
  const kinds: [string, KeyObject, string][] = [
    ['EC P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'ES256'],
    ['EC P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, 'ES384'],
    ['RSA 2048', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256'],
    ['Ed25519', generateKeyPairSync('ed25519').privateKey, 'EdDSA'],
  ];
  for (const [name, key, alg] of kinds) {
    it(`${name}: ${alg} with the same header and claims as before, accepted once by verify()`, async () => {
      const { service, close } = await serviceWith(key, name.replace(/\W/g, ''));
      try {
        const now = new Date();
        const iat = Math.floor(now.getTime() / 1000);
        const logFields: Record<string, unknown> = {};
        const token = (
          await service.issue({
            serviceType: 'com.apple.watch.pairing',
            enrollment: ENROLLMENT,
            parameters: { PhoneUDID: PHONE, WatchUDID: WATCH, SecurityToken: SECURITY },
            now,
            logFields,
          })
        ).toString('utf8');
        const [h, p] = token.split('.');
        const kid = await calculateJwkThumbprint(await exportJWK(key));
        assert.deepEqual(JSON.parse(decode(h)), { alg, typ: 'mdm-watch-pairing+jwt', kid });
        const claims = JSON.parse(decode(p)) as Record<string, unknown>;
        assert.deepEqual(Object.keys(claims), ['service_type', 'watch_udid', 'sth', 'iss', 'sub', 'iat', 'exp', 'jti']);
        assert.deepEqual(claims, {
          service_type: 'com.apple.watch.pairing',
          watch_udid: WATCH,
          sth: createHash('sha256').update(SECURITY).digest('base64url'),
          iss: 'urn:mdm-checkin',
          sub: PHONE,
          iat,
          exp: iat + 600,
          jti: logFields.tokenId,
        });
        const ok = await service.verify(token, WATCH, SECURITY, now);
        assert.equal(ok.tokenId, logFields.tokenId);
        await assert.rejects(
          service.verify(token, WATCH, SECURITY, now),
          (err: { reason?: string }) => err.reason === 'replayed',
        );
      } finally {
        await close();
      }
    });
  }
});
