import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validate } from 'class-validator';
import { resolveEnrollment } from '../checkin/enrollment-id.js';
import { decodePlist, isPlistDict } from '../checkin/plist/plist-decoder.js';
import type { PlistDict } from '../checkin/plist/plist-decoder.js';
import { AuthenticateMessage } from '../enrollments/messages/authenticate.message.js';
import { GetBootstrapTokenMessage, SetBootstrapTokenMessage } from '../enrollments/messages/bootstrap-token.message.js';
import { CheckOutMessage } from '../enrollments/messages/check-out.message.js';
import { TokenUpdateMessage } from '../enrollments/messages/token-update.message.js';
import { GetTokenMessage } from '../tokens/messages/get-token.message.js';
import {
  authenticate,
  checkOut,
  encode,
  getBootstrapToken,
  getToken,
  makeDevice,
  rotatePushCredentials,
  setBootstrapToken,
  sharedIpadUserTokenUpdate,
  tokenUpdate,
} from './devices.js';
import type { Message, SimDevice } from './devices.js';
import { percentile } from './report.js';
import { certificateHeaderValue, checkinUrl } from './transport.js';

/** Decodes a simulated body with the server's own strict decoder. */
function decoded(device: SimDevice, message: Message): PlistDict {
  const value = decodePlist(encode(device, message));
  assert.ok(isPlistDict(value));
  return value;
}

/** The server's validation of a message against its DTO: no errors. */
async function assertValid(dto: new () => object, body: PlistDict): Promise<void> {
  const errors = await validate(Object.assign(new dto(), body), { forbidUnknownValues: true });
  assert.deepStrictEqual(
    errors.map((e) => e.constraints),
    [],
  );
}

const population = Array.from({ length: 16 }, (_, i) => makeDevice(i, '0a1b2c3d'));

describe('simulated devices', () => {
  it('mix iPhones, iPads and Macs with distinct UDIDs of the right shapes', () => {
    const kinds = new Set(population.map((d) => d.kind));
    assert.deepStrictEqual([...kinds].sort(), ['Mac', 'iPad', 'iPhone']);
    assert.equal(new Set(population.map((d) => d.udid)).size, population.length);
    for (const d of population) {
      if (d.kind === 'Mac') assert.match(d.udid, /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
      else assert.match(d.udid, /^[0-9A-F]{8}-[0-9A-F]{16}$/);
    }
  });

  it('send binary plists from iPhones and XML from iPads and Macs', () => {
    for (const d of population) {
      const head = encode(d, authenticate(d)).subarray(0, 8).toString('latin1');
      assert.equal(head === 'bplist00', d.kind === 'iPhone', `${d.kind}: ${head}`);
    }
  });

  it('send messages the server decodes and validates, on the device channel', async () => {
    for (const d of population) {
      const auth = decoded(d, authenticate(d));
      await assertValid(AuthenticateMessage, auth);
      assert.equal(auth.ProductName, d.productName);
      assert.equal(auth.DeviceName !== undefined, d.kind === 'Mac');
      const first = decoded(d, tokenUpdate(d, { awaitingConfiguration: true, withUnlockToken: true }));
      await assertValid(TokenUpdateMessage, first);
      assert.equal(first.AwaitingConfiguration, true);
      assert.equal(first.UnlockToken !== undefined, d.kind !== 'Mac', 'only iOS and iPadOS send an UnlockToken');
      await assertValid(CheckOutMessage, decoded(d, checkOut(d)));
      await assertValid(GetTokenMessage, decoded(d, getToken(d, 'com.apple.maid')));
      assert.deepStrictEqual(resolveEnrollment(auth), {
        id: d.udid,
        type: 'Device',
        channel: 'device',
        deviceId: d.udid,
        parentId: null,
      });
    }
  });

  it('rotate the push token and PushMagic; a later TokenUpdate carries no UnlockToken', async () => {
    const d = makeDevice(1, '0a1b2c3d');
    const before = { token: Buffer.from(d.token), pushMagic: d.pushMagic };
    rotatePushCredentials(d);
    assert.notDeepStrictEqual(d.token, before.token);
    assert.notEqual(d.pushMagic, before.pushMagic);
    const later = decoded(d, tokenUpdate(d, { awaitingConfiguration: false, withUnlockToken: false }));
    await assertValid(TokenUpdateMessage, later);
    assert.equal(later.UnlockToken, undefined);
    assert.equal(later.PushMagic, d.pushMagic);
    assert.deepStrictEqual(later.Token, d.token);
  });

  it('escrow a bootstrap token on Macs only', async () => {
    for (const d of population) {
      assert.equal(d.bootstrapToken !== undefined, d.kind === 'Mac');
      if (d.bootstrapToken === undefined) continue;
      const set = decoded(d, setBootstrapToken(d));
      await assertValid(SetBootstrapTokenMessage, set);
      assert.deepStrictEqual(set.BootstrapToken, d.bootstrapToken);
      await assertValid(GetBootstrapTokenMessage, decoded(d, getBootstrapToken(d)));
    }
  });

  it('sign Shared iPad users in on the user channel UDID:UserShortName', async () => {
    const ipad = population.find((d) => d.kind === 'iPad');
    assert.ok(ipad);
    const msg = decoded(ipad, sharedIpadUserTokenUpdate(ipad, 2));
    await assertValid(TokenUpdateMessage, msg);
    const resolved = resolveEnrollment(msg);
    assert.equal(resolved.id, `${ipad.udid}:user2@example.org`);
    assert.equal(resolved.type, 'Shared iPad');
    assert.equal(resolved.parentId, ipad.udid);
  });
});

describe('simulator helpers', () => {
  it('percentile: nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 50), 50);
    assert.equal(percentile(sorted, 95), 95);
    assert.equal(percentile(sorted, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('checkinUrl: a bare origin means /checkin; a path is kept', () => {
    assert.equal(checkinUrl('http://127.0.0.1:8080').href, 'http://127.0.0.1:8080/checkin');
    assert.equal(checkinUrl('https://mdm.example.org/mdm').href, 'https://mdm.example.org/mdm');
    assert.throws(() => checkinUrl('ftp://x'));
  });

  it('certificateHeaderValue: RFC 9440 byte sequence', () => {
    assert.equal(certificateHeaderValue(Buffer.from([1, 2, 3])), ':AQID:');
  });
});
