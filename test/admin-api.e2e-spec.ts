import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newUdid, send, xmlMessage } from './support/device.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';

async function get(
  t: TestApp,
  path: string,
  auth?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${t.url}${path}`, { headers: auth === undefined ? {} : { authorization: auth } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('inspection API', () => {
  let t: TestApp;
  let udid: string;
  before(async () => {
    t = await startTestApp();
    udid = newUdid();
    await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }));
    await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: udid }));
    await send(t.url, xmlMessage('mac-set-bootstrap-token.plist', { UDID: udid }));
  });
  after(async () => {
    await t.close();
  });

  it('refuses a missing, malformed or wrong key with 401', async () => {
    for (const auth of [
      undefined,
      ADMIN_KEY,
      `Basic ${ADMIN_KEY}`,
      'Bearer wrong-key-0123456789',
      `Bearer ${ADMIN_KEY}x`,
    ]) {
      const r = await get(t, `/api/v1/devices/${udid}`, auth);
      assert.equal(r.status, 401, String(auth));
      assert.equal(r.json.udid, undefined);
    }
  });

  it('shows a device in camelCase with its enrollments and no secret values', async () => {
    const r = await get(t, `/api/v1/devices/${udid}`, `Bearer ${ADMIN_KEY}`);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json).sort(), [
      'bootstrapTokenAt',
      'bootstrapTokenPredatesLastAuthenticate',
      'buildVersion',
      'certificate',
      'certificates',
      'createdAt',
      'deviceName',
      'enrollments',
      'hasBootstrapToken',
      'hasUnlockToken',
      'imei',
      'lastAuthenticateAt',
      'meid',
      'model',
      'modelName',
      'osVersion',
      'productName',
      'serialNumber',
      'udid',
      'unlockTokenAt',
      'unlockTokenPredatesLastAuthenticate',
      'updatedAt',
    ]);
    assert.equal(r.json.hasUnlockToken, true);
    assert.equal(r.json.hasBootstrapToken, true);
    const [e] = r.json.enrollments as Record<string, unknown>[];
    assert.ok(e);
    assert.deepEqual(Object.keys(e).sort(), [
      'awaitingConfiguration',
      'createdAt',
      'deviceId',
      'enabled',
      'hasUnlockToken',
      'id',
      'lastSeenAt',
      'parentId',
      'pushMagic',
      'token',
      'tokenUpdateCount',
      'topic',
      'type',
      'updatedAt',
    ]);
    assert.match(String(e.lastSeenAt), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const text = JSON.stringify(r.json);
    assert.equal(/unlockToken"|bootstrapToken"/.test(text), false);
  });

  it('finds an enrollment by its URL-encoded id and answers 404 for unknown ids', async () => {
    const ok = await get(t, `/api/v1/enrollments/${encodeURIComponent(udid)}`, `Bearer ${ADMIN_KEY}`);
    assert.equal(ok.status, 200);
    assert.equal(ok.json.id, udid);
    const userChannelId = encodeURIComponent(`${udid}:alex@example.org`);
    assert.equal((await get(t, `/api/v1/enrollments/${userChannelId}`, `Bearer ${ADMIN_KEY}`)).status, 404);
    assert.equal((await get(t, `/api/v1/devices/${newUdid()}`, `Bearer ${ADMIN_KEY}`)).status, 404);
  });

  it('answers liveness and readiness', async () => {
    const live = await fetch(`${t.url}/healthz`);
    assert.equal(live.status, 200);
    const ready = await fetch(`${t.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { status: string }).status, 'ok');
  });
});

describe('inspection API without ADMIN_API_KEY', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ ADMIN_API_KEY: '' });
  });
  after(async () => {
    await t.close();
  });

  it('is off: 404 that says why, whatever the header, and a warning at start-up', async () => {
    const r = await get(t, `/api/v1/devices/${newUdid()}`, `Bearer ${ADMIN_KEY}`);
    assert.equal(r.status, 404);
    assert.match(String(r.json.message), /ADMIN_API_KEY/);
    assert.ok(t.logs.entries().some((l) => l.level === 'warn' && /admin API .* disabled/.test(String(l.msg))));
  });

  it('leaves check-in working', async () => {
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: newUdid() }))).status, 200);
  });
});
