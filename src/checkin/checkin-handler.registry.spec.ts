import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IsString, registerDecorator } from 'class-validator';
import { CheckinHandler } from './checkin-handler.decorator.js';
import { CheckinHandlerRegistry } from './checkin-handler.registry.js';
import { OK } from './checkin.types.js';
import type { CheckinContext, CheckinMessageHandler, CheckinResult } from './checkin.types.js';

class SomeMessage {
  MessageType!: string;
}

/** An asynchronous constraint (a directory lookup, say): the dispatcher's validateSync would skip it. */
function KnownElsewhere(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'knownElsewhere',
      async: true,
      target: target.constructor,
      propertyName: String(propertyName),
      validator: { validate: () => Promise.resolve(false) },
    });
}

class LookedUpMessage {
  @KnownElsewhere()
  @IsString()
  UDID!: string;
}

class OtherMessage {
  UDID!: string;
}

class FirstHandler implements CheckinMessageHandler {
  handle(): Promise<CheckinResult> {
    return Promise.resolve(OK);
  }
}

class SecondHandler implements CheckinMessageHandler {
  handle(): Promise<CheckinResult> {
    return Promise.resolve({ status: 204 });
  }
}

/** A registry for direct `register` calls; discovery is never consulted. */
function bareRegistry(): CheckinHandlerRegistry {
  const discovery = {
    getProviders: () => {
      throw new Error('discovery must not be used by register()');
    },
  };
  return new CheckinHandlerRegistry(discovery as unknown as DiscoveryService);
}

describe('CheckinHandlerRegistry.register', () => {
  it('registers a handler with its DTO, and the device channel by default', () => {
    const registry = bareRegistry();
    const handler = new FirstHandler();
    registry.register({ messageType: 'Authenticate', dto: SomeMessage }, handler, 'FirstHandler');
    const registered = registry.get('Authenticate');
    assert.ok(registered !== undefined);
    assert.equal(registered.messageType, 'Authenticate');
    assert.equal(registered.dto, SomeMessage);
    assert.equal(registered.handler, handler);
    assert.deepStrictEqual([...registered.channels], ['device']);
    assert.equal(registered.channels.has('user'), false);
  });

  it('keeps the channels a handler declares', () => {
    const registry = bareRegistry();
    registry.register(
      { messageType: 'TokenUpdate', dto: SomeMessage, channels: ['device', 'user'] },
      new FirstHandler(),
    );
    registry.register({ messageType: 'UserOnly', dto: SomeMessage, channels: ['user'] }, new SecondHandler());
    assert.deepStrictEqual([...registry.get('TokenUpdate')!.channels].sort(), ['device', 'user']);
    assert.deepStrictEqual([...registry.get('UserOnly')!.channels], ['user']);
  });

  it('lists message types sorted and knows nothing of unregistered types', () => {
    const registry = bareRegistry();
    assert.deepStrictEqual(registry.messageTypes(), []);
    registry.register({ messageType: 'TokenUpdate', dto: SomeMessage }, new FirstHandler());
    registry.register({ messageType: 'Authenticate', dto: OtherMessage }, new SecondHandler());
    registry.register({ messageType: 'CheckOut', dto: SomeMessage }, new FirstHandler());
    assert.deepStrictEqual(registry.messageTypes(), ['Authenticate', 'CheckOut', 'TokenUpdate']);
    assert.equal(registry.get('DeclarativeManagement'), undefined);
    assert.equal(registry.get('authenticate'), undefined, 'MessageType is case-sensitive');
  });

  it('refuses a second handler for the same MessageType, naming both', () => {
    const registry = bareRegistry();
    const first = new FirstHandler();
    registry.register({ messageType: 'Authenticate', dto: SomeMessage }, first, 'FirstHandler');
    assert.throws(
      () => registry.register({ messageType: 'Authenticate', dto: OtherMessage }, new SecondHandler(), 'SecondHandler'),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.equal(
          err.message,
          'Two check-in handlers claim MessageType "Authenticate": FirstHandler and SecondHandler',
        );
        return true;
      },
    );
    // The first registration stands.
    assert.equal(registry.get('Authenticate')!.handler, first);
    assert.equal(registry.get('Authenticate')!.dto, SomeMessage);
  });

  it('splits a MessageType between two handlers by channel, each message to its own', async () => {
    const registry = bareRegistry();
    const device = new FirstHandler();
    const user = new SecondHandler();
    registry.register({ messageType: 'TokenUpdate', dto: SomeMessage }, device, 'DeviceHandler');
    registry.register({ messageType: 'TokenUpdate', dto: SomeMessage, channels: ['user'] }, user, 'UserHandler');
    const registered = registry.get('TokenUpdate')!;
    assert.deepStrictEqual([...registered.channels].sort(), ['device', 'user']);
    const on = (channel: 'device' | 'user') =>
      ({ messageType: 'TokenUpdate', enrollment: { channel } }) as unknown as CheckinContext;
    assert.equal((await registered.handler.handle({}, on('device'))).status, 200);
    assert.equal((await registered.handler.handle({}, on('user'))).status, 204);
    assert.deepStrictEqual(registry.messageTypes(), ['TokenUpdate']);
  });

  it('refuses a second handler on a channel already claimed, and a split with two DTOs', () => {
    const registry = bareRegistry();
    registry.register({ messageType: 'T', dto: SomeMessage, channels: ['device', 'user'] }, new FirstHandler(), 'A');
    assert.throws(
      () => registry.register({ messageType: 'T', dto: SomeMessage, channels: ['user'] }, new SecondHandler(), 'B'),
      /^Error: Two check-in handlers claim MessageType "T": A and B$/,
    );
    registry.register({ messageType: 'U', dto: SomeMessage }, new FirstHandler(), 'A');
    assert.throws(
      () => registry.register({ messageType: 'U', dto: OtherMessage, channels: ['user'] }, new SecondHandler(), 'B'),
      /must share one DTO: SomeMessage \(A\) and OtherMessage \(B\)/,
    );
    assert.deepStrictEqual([...registry.get('U')!.channels], ['device']);
  });

  it('refuses the same handler registered twice', () => {
    const registry = bareRegistry();
    const handler = new FirstHandler();
    registry.register({ messageType: 'X', dto: SomeMessage }, handler, 'FirstHandler');
    assert.throws(() => registry.register({ messageType: 'X', dto: SomeMessage }, handler, 'FirstHandler'), /claim/);
  });

  it('refuses a DTO with an asynchronous constraint, which synchronous validation would skip', () => {
    const registry = bareRegistry();
    assert.throws(
      () => registry.register({ messageType: 'X', dto: LookedUpMessage }, new FirstHandler(), 'FirstHandler'),
      /^Error: Check-in DTO LookedUpMessage validates "UDID" asynchronously/,
    );
    assert.equal(registry.get('X'), undefined);
    registry.register({ messageType: 'X', dto: OtherMessage }, new FirstHandler(), 'FirstHandler');
    assert.equal(registry.get('X')?.dto, OtherMessage);
  });

  it('refuses an object without handle(), and does not register it', () => {
    const registry = bareRegistry();
    const notAHandler = { run: () => Promise.resolve(OK) } as unknown as CheckinMessageHandler;
    assert.throws(
      () => registry.register({ messageType: 'Authenticate', dto: SomeMessage }, notAHandler, 'BrokenHandler'),
      /^Error: Check-in handler BrokenHandler for "Authenticate" has no handle\(\) method$/,
    );
    const handleNotAFunction = { handle: 'yes' } as unknown as CheckinMessageHandler;
    assert.throws(
      () => registry.register({ messageType: 'Authenticate', dto: SomeMessage }, handleNotAFunction),
      /Check-in handler handler for "Authenticate" has no handle\(\) method/,
    );
    assert.equal(registry.get('Authenticate'), undefined);
    assert.deepStrictEqual(registry.messageTypes(), []);
  });
});

// ---------------------------------------------------------------------------------------
// Discovery through a real Nest module.

@Injectable()
class Clock {
  now(): Date {
    return new Date(0);
  }
}

@CheckinHandler({ messageType: 'X', dto: SomeMessage })
@Injectable()
class FirstXHandler implements CheckinMessageHandler {
  constructor(@Inject(Clock) readonly clock: Clock) {}
  handle(): Promise<CheckinResult> {
    return Promise.resolve(OK);
  }
}

@CheckinHandler({ messageType: 'X', dto: OtherMessage })
@Injectable()
class SecondXHandler implements CheckinMessageHandler {
  handle(): Promise<CheckinResult> {
    return Promise.resolve(OK);
  }
}

@CheckinHandler({ messageType: 'Y', dto: OtherMessage, channels: ['user'] })
@Injectable()
class YHandler implements CheckinMessageHandler {
  handle(): Promise<CheckinResult> {
    return Promise.resolve(OK);
  }
}

describe('CheckinHandlerRegistry discovery', () => {
  it('finds @CheckinHandler providers when the module starts, and ignores other providers', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DiscoveryModule],
      providers: [CheckinHandlerRegistry, Clock, FirstXHandler, YHandler],
    }).compile();
    try {
      await moduleRef.init();
      const registry = moduleRef.get(CheckinHandlerRegistry);
      assert.deepStrictEqual(registry.messageTypes(), ['X', 'Y']);
      const x = registry.get('X')!;
      assert.equal(x.handler, moduleRef.get(FirstXHandler));
      assert.ok(x.handler.clock instanceof Clock, 'the handler was built by Nest, with its deps');
      assert.equal(x.dto, SomeMessage);
      assert.deepStrictEqual([...x.channels], ['device']);
      assert.deepStrictEqual([...registry.get('Y')!.channels], ['user']);
    } finally {
      await moduleRef.close();
    }
  });

  it('fails init() when two providers claim the same MessageType', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DiscoveryModule],
      providers: [CheckinHandlerRegistry, Clock, FirstXHandler, SecondXHandler],
    }).compile();
    try {
      await assert.rejects(
        () => moduleRef.init(),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.match(err.message, /^Two check-in handlers claim MessageType "X": (\w+) and (\w+)$/);
          const names = /: (\w+) and (\w+)$/.exec(err.message)!.slice(1).sort();
          assert.deepStrictEqual(names, ['FirstXHandler', 'SecondXHandler']);
          return true;
        },
      );
    } finally {
      // Nest 12.1's close() re-throws the error of a failed init(): the one asserted above.
      await moduleRef.close().catch(() => undefined);
    }
  });
});
