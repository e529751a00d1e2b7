import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkinPath } from '../src/checkin/checkin-lane.js';
import { newUdid, parseReply, send, xmlMessage } from './support/device.js';
import type { Reply } from './support/device.js';
import { startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';

describe('check-ins bypass the Express router, with the same answers', () => {
  let t: TestApp;
  let expressSaw: string[];
  before(async () => {
    t = await startTestApp();
    // Count what reaches Express: its app function calls app.handle() for every request.
    const express = t.app.getHttpAdapter().getInstance() as unknown as { handle: (...a: unknown[]) => unknown };
    const original = express.handle.bind(express);
    expressSaw = [];
    express.handle = (...args: unknown[]) => {
      const req = args[0] as { method: string; url: string };
      expressSaw.push(`${req.method} ${req.url}`);
      return original(...args);
    };
  });
  after(async () => {
    await t.close();
  });

  /** The parts of an answer a device sees (X-Request-Id and Date differ by nature). */
  function seen(r: Reply): Record<string, unknown> {
    return {
      status: r.status,
      contentType: r.headers.get('content-type'),
      contentLength: r.headers.get('content-length'),
      body: r.text,
    };
  }

  it('PUT and POST /checkin (and /mdm) never reach Express; other spellings do, and answer the same', async () => {
    const udid = newUdid();
    const before = expressSaw.length;
    const auth = await send(t.url, xmlMessage('mac-authenticate.plist', { UDID: udid }));
    const tu = await send(t.url, xmlMessage('mac-token-update.plist', { UDID: udid }), {
      method: 'POST',
      path: '/checkin?org=acme',
    });
    const viaMdm = await send(t.url, xmlMessage('mac-token-update.plist', { UDID: udid }), { path: '/mdm' });
    const bad = await send(t.url, 'not a plist');
    assert.deepEqual([auth.status, tu.status, viaMdm.status, bad.status], [200, 200, 200, 400]);
    assert.deepEqual(expressSaw.slice(before), [], 'the lane took all four');

    // The same messages through Express's routes (matched case-insensitively and with a
    // trailing slash): the same answers, byte for byte.
    const tuExpress = await send(t.url, xmlMessage('mac-token-update.plist', { UDID: udid }), { path: '/CheckIn/' });
    const badExpress = await send(t.url, 'not a plist', { path: '/Checkin' });
    assert.deepEqual(expressSaw.slice(before), ['PUT /CheckIn/', 'PUT /Checkin']);
    assert.deepEqual(seen(tuExpress), seen(tu));
    assert.deepEqual(seen(badExpress), seen(bad));
    assert.equal(bad.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.ok(bad.headers.get('x-request-id'));
  });

  it('a plist answer through the lane is the same as through Express', async () => {
    const udid = newUdid();
    assert.equal((await send(t.url, xmlMessage('mac-authenticate.plist', { UDID: udid }))).status, 200);
    assert.equal((await send(t.url, xmlMessage('mac-token-update.plist', { UDID: udid }))).status, 200);
    const set = await send(t.url, xmlMessage('mac-set-bootstrap-token.plist', { UDID: udid }));
    assert.equal(set.status, 200, set.text);
    const get = xmlMessage('mac-get-bootstrap-token.plist', { UDID: udid });
    const lane = await send(t.url, get);
    const express = await send(t.url, get, { path: '/checkin/' });
    assert.equal(lane.status, 200, lane.text);
    assert.deepEqual(seen(express), seen(lane));
    assert.equal(lane.headers.get('content-type'), 'application/xml; charset=utf-8');
    assert.notEqual(parseReply(lane).BootstrapToken, undefined);
  });

  it('other methods and paths stay with Express (GET /checkin is 404 there)', async () => {
    const before = expressSaw.length;
    const get = await fetch(`${t.url}/checkin`);
    assert.equal(get.status, 404);
    const health = await fetch(`${t.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(expressSaw.slice(before), ['GET /checkin', 'GET /healthz']);
  });

  it('checkinPath takes exactly PUT/POST /checkin and /mdm, with or without a query', () => {
    assert.equal(checkinPath({ method: 'PUT', url: '/checkin' }), 'checkin');
    assert.equal(checkinPath({ method: 'POST', url: '/checkin?org=acme&x=1' }), 'checkin');
    assert.equal(checkinPath({ method: 'PUT', url: '/mdm' }), 'mdm');
    assert.equal(checkinPath({ method: 'GET', url: '/checkin' }), undefined);
    assert.equal(checkinPath({ method: 'PUT', url: '/checkin/' }), undefined);
    assert.equal(checkinPath({ method: 'PUT', url: '/checkin/x' }), undefined);
    assert.equal(checkinPath({ method: 'PUT', url: '/Checkin' }), undefined);
    assert.equal(checkinPath({ method: 'PUT', url: '/checkinx' }), undefined);
    assert.equal(checkinPath({ method: 'PUT', url: undefined }), undefined);
  });
});
