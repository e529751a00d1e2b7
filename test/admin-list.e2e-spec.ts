import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { newUdid, send, xmlMessage } from './support/device.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';

type Json = Record<string, unknown>;
const AUTH = `Bearer ${ADMIN_KEY}`;

/** A GET with the admin key, another header, or (null) none. */
async function get(t: TestApp, path: string, auth: string | null = AUTH): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${t.url}${path}`, { headers: auth === null ? {} : { authorization: auth } });
  return { status: res.status, json: (await res.json()) as Json };
}

async function ok(t: TestApp, body: Buffer): Promise<void> {
  const r = await send(t.url, body);
  assert.equal(r.status, 200, r.text);
}

async function enrollIpad(t: TestApp, udid: string, serial: string): Promise<void> {
  await ok(t, xmlMessage('ipad-authenticate.plist', { UDID: udid, SerialNumber: serial }));
  await ok(t, xmlMessage('ipad-token-update.plist', { UDID: udid }));
}

/** One page of a list; asserts a 200. */
async function page(t: TestApp, path: string): Promise<{ items: Json[]; nextCursor?: string }> {
  const r = await get(t, path);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json as { items: Json[]; nextCursor?: string };
}

/** Every item of a list, page by page; `between` runs after each page but the last. */
async function all(
  t: TestApp,
  resource: string,
  query: string,
  key: string,
  between: (pageNumber: number) => Promise<void> = () => Promise.resolve(),
): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let n = 1; ; n++) {
    const p = await page(t, `/api/v1/${resource}?${query}${cursor === undefined ? '' : `&cursor=${cursor}`}`);
    seen.push(...p.items.map((i) => String(i[key])));
    if (p.nextCursor === undefined) return seen;
    assert.equal(Object.keys(p).sort().join(), 'items,nextCursor');
    cursor = p.nextCursor;
    await between(n);
  }
}

const sorted = (ids: string[]): string[] => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('admin lists: devices, enrollments, users', () => {
  let t: TestApp;
  const ipads: string[] = [];
  let mac: string;
  let macUser: string;
  before(async () => {
    t = await startTestApp();
    for (let i = 0; i < 17; i++) {
      const udid = newUdid();
      ipads.push(udid);
      await enrollIpad(t, udid, `SER${i.toString().padStart(4, '0')}`);
    }
    mac = newUdid();
    macUser = randomUUID().toUpperCase();
    await ok(t, xmlMessage('mac-authenticate.plist', { UDID: mac }));
    await ok(t, xmlMessage('mac-token-update.plist', { UDID: mac }));
    await ok(t, xmlMessage('mac-user-token-update.plist', { UDID: mac, UserID: macUser }));
  });
  after(async () => {
    await t.close();
  });

  it('answers 401 without the key, on every list', async () => {
    for (const resource of ['devices', 'enrollments', 'users']) {
      const r = await get(t, `/api/v1/${resource}`, null);
      assert.equal(r.status, 401, resource);
      assert.equal(r.json.items, undefined);
      assert.equal((await get(t, `/api/v1/${resource}`, 'Bearer wrong-key-0123456789')).status, 401);
    }
  });

  it('pages through more rows than one page holds, each row exactly once, in id order', async () => {
    const devices = await all(t, 'devices', 'limit=4', 'udid');
    assert.deepEqual(devices, sorted([...ipads, mac]));
    const enrollments = await all(t, 'enrollments', 'limit=3', 'id');
    assert.deepEqual(enrollments, sorted([...ipads, mac, `${mac}:${macUser}`]));
    // One page when everything fits: no nextCursor at all.
    const whole = await page(t, '/api/v1/devices?limit=500');
    assert.equal(whole.items.length, ipads.length + 1);
    assert.deepEqual(Object.keys(whole), ['items']);
  });

  it('default limit is 100, and items have the shapes of the single-record endpoints', async () => {
    const devices = await page(t, '/api/v1/devices');
    assert.equal(devices.items.length, ipads.length + 1);
    const one = await get(t, `/api/v1/devices/${ipads[0]}`);
    assert.deepEqual(
      devices.items.find((d) => d.udid === ipads[0]),
      one.json,
    );
    const enrollment = await get(t, `/api/v1/enrollments/${encodeURIComponent(`${mac}:${macUser}`)}`);
    const listed = (await page(t, `/api/v1/enrollments?deviceId=${mac}&type=User`)).items;
    assert.deepEqual(listed, [enrollment.json]);
    const users = await get(t, `/api/v1/devices/${mac}/users`);
    assert.deepEqual((await page(t, '/api/v1/users')).items, users.json);
  });

  it('sort=id: rows written between pages cause no skip and no repeat', async () => {
    const early = `00000000-${randomUUID().slice(0, 16).toUpperCase()}`;
    const late = `FFFFFFFF-${randomUUID().slice(0, 16).toUpperCase()}`;
    const before = sorted([...ipads, mac]);
    const seen = await all(t, 'devices', 'limit=5', 'udid', async (n) => {
      if (n !== 1) return;
      // A device sorting before the cursor, one after it, and a change to a device already read.
      await enrollIpad(t, early, 'EARLY');
      await enrollIpad(t, late, 'LATE');
      // The smallest iPad id is on the first page (the Mac alone may sort before it); the Mac
      // itself is left alone, its AwaitingConfiguration is filtered on below.
      await ok(t, xmlMessage('ipad-token-update.plist', { UDID: sorted(ipads)[0] }));
    });
    assert.equal(new Set(seen).size, seen.length, 'no device repeated');
    for (const udid of before) assert.ok(seen.includes(udid), `${udid} skipped`);
    assert.ok(seen.includes(late), 'a new device after the cursor is listed');
    assert.ok(!seen.includes(early), 'a new device before the cursor is not');
    ipads.push(early, late);
  });

  it('sort=updatedAt: ordered by updatedAt then id, every row once', async () => {
    const seen: Json[] = [];
    let cursor: string | undefined;
    do {
      const p = await page(
        t,
        `/api/v1/enrollments?sort=updatedAt&limit=4${cursor === undefined ? '' : `&cursor=${cursor}`}`,
      );
      seen.push(...p.items);
      cursor = p.nextCursor;
    } while (cursor !== undefined);
    const keys = seen.map((e) => [String(e.updatedAt), String(e.id)] as const);
    for (let i = 1; i < keys.length; i++) {
      const [a, b] = [keys[i - 1], keys[i]] as [readonly [string, string], readonly [string, string]];
      assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), `${a.join()} before ${b.join()}`);
    }
    assert.deepEqual(sorted(seen.map((e) => String(e.id))), sorted([...ipads, mac, `${mac}:${macUser}`]));
    // The device changed last is last.
    const last = ipads[3] as string;
    await ok(t, xmlMessage('ipad-token-update.plist', { UDID: last }));
    const byUpdate = await all(t, 'devices', 'sort=updatedAt&limit=7', 'udid');
    assert.equal(byUpdate.length, ipads.length + 1);
    assert.equal(byUpdate[byUpdate.length - 1], last);
  });

  it('filters enrollments', async () => {
    const ids = async (q: string): Promise<string[]> => sorted(await all(t, 'enrollments', q, 'id'));
    assert.deepEqual(await ids('type=User'), [`${mac}:${macUser}`]);
    assert.deepEqual(await ids(`deviceId=${mac}`), sorted([mac, `${mac}:${macUser}`]));
    // Two devices of this test's own: which earlier devices the paging tests touched depends on
    // how their random UDIDs sort.
    const target = `11111111-${randomUUID().slice(0, 16).toUpperCase()}`;
    const once = `22222222-${randomUUID().slice(0, 16).toUpperCase()}`;
    await enrollIpad(t, target, 'TARGET');
    await enrollIpad(t, once, 'ONCE');
    ipads.push(target, once);
    await ok(t, xmlMessage('ipad-token-update.plist', { UDID: target }));
    const twice = await ids('tokenUpdateCount=2');
    assert.ok(twice.includes(target));
    assert.ok(!(await ids('tokenUpdateCount=1')).includes(target));
    assert.ok((await ids('tokenUpdateCount=1')).includes(once));
    await ok(t, xmlMessage('checkout.plist', { UDID: target }));
    assert.deepEqual(await ids('enabled=false'), [target]);
    assert.ok(!(await ids('enabled=true')).includes(target));
    assert.ok((await ids('awaitingConfiguration=false&type=Device')).includes(ipads[2] as string));
    // The Mac's TokenUpdate says it awaits configuration; the iPads' say they do not.
    assert.deepEqual(await ids('awaitingConfiguration=true&type=Device'), [mac]);
    const e = (await get(t, `/api/v1/enrollments/${ipads[2]}`)).json;
    assert.ok((await ids(`topic=${encodeURIComponent(String(e.topic))}`)).includes(ipads[2] as string));
    assert.deepEqual(await ids('topic=com.apple.mgmt.nobody'), []);
    // updatedSince: the enrollment checked out just now, and nothing later.
    const checkedOut = (await get(t, `/api/v1/enrollments/${target}`)).json;
    const since = await ids(`updatedSince=${encodeURIComponent(String(checkedOut.updatedAt))}`);
    assert.ok(since.includes(target));
    const after = new Date(Date.parse(String(checkedOut.updatedAt)) + 1).toISOString();
    assert.ok(!(await ids(`updatedSince=${after}`)).includes(target));
  });

  it('filters devices by serial number, update time and certificate expiry', async () => {
    assert.deepEqual(await all(t, 'devices', 'serialNumber=SER0005', 'udid'), [ipads[5]]);
    assert.deepEqual(await all(t, 'devices', 'serialNumber=NOPE', 'udid'), []);
    const device = (await get(t, `/api/v1/devices/${ipads[6]}`)).json;
    const since = await all(t, 'devices', `updatedSince=${encodeURIComponent(String(device.updatedAt))}`, 'udid');
    assert.ok(since.includes(ipads[6] as string));
    assert.ok(since.length < ipads.length + 1);
    const cert = device.certificate as Json | null;
    assert.ok(cert, 'the test devices sign their messages, so each has a certificate');
    const notAfter = Date.parse(String(cert.notAfter));
    const expiring = await all(
      t,
      'devices',
      `certificateExpiresBefore=${new Date(notAfter + 1).toISOString()}`,
      'udid',
    );
    assert.ok(expiring.includes(ipads[6] as string));
    const notYet = await all(t, 'devices', `certificateExpiresBefore=${new Date(notAfter).toISOString()}`, 'udid');
    assert.ok(!notYet.includes(ipads[6] as string));
    const revoke = await fetch(`${t.url}/api/v1/devices/${ipads[6]}/certificates/${String(cert.fingerprint)}`, {
      method: 'DELETE',
      headers: { authorization: AUTH },
    });
    assert.equal(revoke.status, 204);
    // No active certificate: nothing to renew, so not listed.
    const afterRevoke = await all(t, 'devices', 'certificateExpiresBefore=2999-01-01T00:00:00Z', 'udid');
    assert.ok(!afterRevoke.includes(ipads[6] as string));
    assert.ok(afterRevoke.includes(ipads[7] as string));
    const enrollments = await all(t, 'enrollments', 'certificateExpiresBefore=2999-01-01T00:00:00Z', 'id');
    assert.ok(enrollments.includes(`${mac}:${macUser}`));
    assert.ok(!enrollments.includes(ipads[6] as string));
  });

  it('filters users by type and device', async () => {
    assert.deepEqual(await all(t, 'users', 'type=User', 'enrollmentId'), [`${mac}:${macUser}`]);
    assert.deepEqual(await all(t, 'users', 'type=Shared%20iPad', 'enrollmentId'), []);
    assert.deepEqual(await all(t, 'users', `deviceId=${ipads[0]}`, 'enrollmentId'), []);
    assert.deepEqual(await all(t, 'users', `deviceId=${mac}`, 'enrollmentId'), [`${mac}:${macUser}`]);
  });

  it('answers 400 with a clear message for bad parameters', async () => {
    const first = await page(t, '/api/v1/devices?limit=2');
    assert.ok(first.nextCursor);
    const cases: [string, RegExp][] = [
      ['devices?limit=0', /limit must be an integer from 1 to 500/],
      ['devices?limit=501', /limit must be an integer from 1 to 500/],
      ['devices?limit=ten', /limit/],
      ['devices?limit=1&limit=2', /limit must be given once/],
      ['devices?sort=name', /sort must be one of id, updatedAt/],
      ['devices?cursor=%%%', /cursor is malformed/],
      ['devices?cursor=bm90LWpzb24', /cursor is malformed/],
      [`devices?cursor=${Buffer.from('["id",5]').toString('base64url')}`, /cursor is malformed/],
      [`devices?sort=updatedAt&cursor=${first.nextCursor}`, /cursor was made for sort=id/],
      [`devices?sort=updatedAt&cursor=${Buffer.from('["updatedAt","x","y"]').toString('base64url')}`, /malformed/],
      ['enrollments?type=Laptop', /type must be one of Device, /],
      ['users?type=Device', /type must be one of User, Shared iPad, User Enrollment/],
      ['enrollments?enabled=yes', /enabled must be true or false/],
      ['enrollments?tokenUpdateCount=-1', /tokenUpdateCount must be an integer/],
      ['enrollments?updatedSince=yesterday', /updatedSince must be an ISO 8601 date-time/],
      ['devices?certificateExpiresBefore=2026-01-01', /certificateExpiresBefore must be an ISO 8601/],
      ['devices?certificateExpiresBefore=2026-02-31T00:00:00Z', /certificateExpiresBefore must be an ISO 8601/],
      ['enrollments?serialNumber=SER0001', /filter serialNumber does not apply to enrollments/],
      ['users?enabled=true', /filter enabled does not apply to users/],
      ['devices?udid=x', /unknown parameter udid/],
    ];
    for (const [path, message] of cases) {
      const r = await get(t, `/api/v1/${path}`);
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.json)}`);
      assert.match(String(r.json.message), message, path);
    }
  });
});

describe('admin lists without ADMIN_API_KEY', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ ADMIN_API_KEY: '' });
  });
  after(async () => {
    await t.close();
  });

  it('are off: 404 whatever the header', async () => {
    for (const resource of ['devices', 'enrollments', 'users']) {
      for (const auth of [null, AUTH]) {
        const r = await get(t, `/api/v1/${resource}`, auth);
        assert.equal(r.status, 404, resource);
        assert.match(String(r.json.message), /ADMIN_API_KEY/);
      }
    }
  });
});
