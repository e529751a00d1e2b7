import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JwtModule } from '@nestjs/jwt';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import * as x509 from '@peculiar/x509';
import { SignJWT } from 'jose';
import type { ResolvedEnrollment } from '../checkin/enrollment-id.js';
import { loadConfig } from '../config/config.js';
import { tokensConfig } from '../config/namespaces.js';
import { AppLogger } from '../logging/app-logger.js';
import { MaidTokenService } from './maid.token-service.js';

const SERVER_UUID = '5b8a1c2e-7d3f-4e6a-9b0c-1d2e3f4a5b6c';
const ENROLLMENT: ResolvedEnrollment = {
  id: '00008103-0012345A3E88801E',
  type: 'Device',
  channel: 'device',
  deviceId: '00008103-0012345A3E88801E',
  parentId: null,
};

describe('MaidTokenService (JwtService)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mdm-maid-'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let moduleRef: TestingModule;

  before(async () => {
    // A self-signed certificate for the key, as the one registered in ABM/ASM would be.
    x509.cryptoProvider.set(globalThis.crypto);
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const keys = {
      privateKey: await globalThis.crypto.subtle.importKey(
        'pkcs8',
        privateKey.export({ type: 'pkcs8', format: 'der' }),
        alg,
        true,
        ['sign'],
      ),
      publicKey: await globalThis.crypto.subtle.importKey(
        'spki',
        createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
        alg,
        true,
        ['verify'],
      ),
    };
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=MDM Server Token',
      keys,
      signingAlgorithm: alg,
    });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'cert.pem'), cert.toString('pem'));
    const config = loadConfig({
      NODE_ENV: 'test',
      DATA_DIR: dir,
      MAID_SERVER_UUID: SERVER_UUID,
      MAID_SIGNING_KEY_FILE: join(dir, 'key.pem'),
      MAID_SIGNING_CERT_FILE: join(dir, 'cert.pem'),
    });
    moduleRef = await Test.createTestingModule({
      imports: [JwtModule.register({})],
      providers: [
        MaidTokenService,
        { provide: tokensConfig.KEY, useValue: tokensConfig.slice(config) },
        { provide: AppLogger, useValue: new AppLogger('error', 'json', { write: () => undefined }) },
      ],
    }).compile();
    await moduleRef.init();
  });

  after(async () => {
    await moduleRef.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs the very token jose made before: same header, same claims in the same order, same bytes', async () => {
    const service = moduleRef.get(MaidTokenService);
    assert.equal(service.enabled, true);
    const now = new Date('2026-03-01T12:00:00.987Z');
    const logFields: Record<string, unknown> = {};
    const token = (
      await service.issue({
        serviceType: 'com.apple.maid',
        enrollment: ENROLLMENT,
        parameters: undefined,
        now,
        logFields,
      })
    ).toString('utf8');
    const jti = logFields.tokenId;
    assert.equal(typeof jti, 'string');
    // What the jose-only implementation produced for the same claims; RS256 (PKCS#1 v1.5) is
    // deterministic, so the whole token, signature included, must be equal.
    const before = await new SignJWT({ service_type: 'com.apple.maid' })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(SERVER_UUID)
      .setIssuedAt(Math.floor(now.getTime() / 1000))
      .setJti(jti as string)
      .sign(privateKey);
    assert.equal(token, before);
    const [header, payload] = token.split('.').map((part) => Buffer.from(part, 'base64url').toString('utf8'));
    assert.equal(header, '{"alg":"RS256","typ":"JWT"}');
    assert.equal(
      payload,
      `{"service_type":"com.apple.maid","iss":"${SERVER_UUID}","iat":${Math.floor(now.getTime() / 1000)},"jti":"${jti as string}"}`,
    );
  });
});
