import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Injectable } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { TokenService } from './token-service.js';
import type { TokenServiceHandler } from './token-service.js';
import { TokenServiceRegistry } from './token-service.registry.js';

const service = (): TokenServiceHandler => ({ enabled: true, issue: () => Promise.resolve(Buffer.from('t')) });

@TokenService('com.example.one')
@Injectable()
class FirstService implements TokenServiceHandler {
  enabled = true;
  issue(): Promise<Buffer> {
    return Promise.resolve(Buffer.from('first'));
  }
}

@TokenService('com.example.one')
@Injectable()
class SecondService implements TokenServiceHandler {
  enabled = true;
  issue(): Promise<Buffer> {
    return Promise.resolve(Buffer.from('second'));
  }
}

describe('TokenServiceRegistry', () => {
  it('finds services by TokenServiceType and refuses a second one for the same type', () => {
    const registry = new TokenServiceRegistry({ getProviders: () => [] } as never);
    const a = service();
    registry.register('com.example.a', a);
    assert.equal(registry.get('com.example.a'), a);
    assert.equal(registry.get('com.example.b'), undefined);
    assert.throws(
      () => registry.register('com.example.a', service(), 'Other'),
      /Two token services claim TokenServiceType "com.example.a"/,
    );
    assert.throws(
      () => registry.register('com.example.c', { enabled: true } as never, 'Broken'),
      /has no issue\(\) method/,
    );
  });

  it('discovers @TokenService providers at start-up and stops the start on a duplicate', async () => {
    const ok = await Test.createTestingModule({
      imports: [DiscoveryModule],
      providers: [TokenServiceRegistry, FirstService],
    }).compile();
    await ok.init();
    assert.deepEqual(ok.get(TokenServiceRegistry).serviceTypes(), ['com.example.one']);
    await ok.close();
    const dup = await Test.createTestingModule({
      imports: [DiscoveryModule],
      providers: [TokenServiceRegistry, FirstService, SecondService],
    }).compile();
    await assert.rejects(
      dup.init(),
      /Two token services claim TokenServiceType "com.example.one": (FirstService|SecondService) and (FirstService|SecondService)/,
    );
    // Nest 12.1's close() re-throws the error of the failed init() asserted above.
    await dup.close().catch(() => undefined);
  });
});
