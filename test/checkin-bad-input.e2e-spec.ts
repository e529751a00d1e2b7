import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { fixtureBytes, newUdid, send, xmlMessage } from './support/device.js';
import type { Reply } from './support/device.js';
import { snapshot } from './support/snapshot.js';
import { startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';

const plistDoc = (inner: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">${inner}</plist>`;

/** Sends a chunked body (no Content-Length), as a client that streams would. */
function sendChunked(url: string, chunks: Buffer[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/checkin`, {
      method: 'PUT',
      headers: { 'content-type': 'application/x-apple-aspen-mdm-checkin' },
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const body = Buffer.concat(parts);
        resolve({ status: res.statusCode ?? 0, body, text: body.toString('utf8'), headers: new Headers() });
      });
    });
    // The server may close the connection as soon as it has answered 413.
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('bad input gets a clear 4xx and changes nothing', () => {
  let t: TestApp;
  let enrolled: string;
  let authenticatedOnly: string;

  before(async () => {
    t = await startTestApp({ CHECKIN_MAX_BODY_BYTES: '4096' });
    enrolled = newUdid();
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: enrolled }))).status, 200);
    assert.equal((await send(t.url, xmlMessage('ipad-token-update.plist', { UDID: enrolled }))).status, 200);
    authenticatedOnly = newUdid();
    assert.equal((await send(t.url, xmlMessage('ipad-authenticate.plist', { UDID: authenticatedOnly }))).status, 200);
  });
  after(async () => {
    await t.close();
  });

  /** Sends `body`, expects `status` and a body matching `reason`, and that no row changed. */
  async function refused(body: Buffer | string, status: number, reason: RegExp): Promise<void> {
    const before = await snapshot(t.dataSource);
    const r = await send(t.url, body);
    assert.equal(r.status, status, r.text);
    assert.notEqual(r.status, 401);
    assert.match(r.text, reason);
    assert.deepEqual(await snapshot(t.dataSource), before);
  }

  const bigger = (name: string, extra: Record<string, unknown>): Buffer =>
    xmlMessage(name, extra as Record<string, string>);

  it('an empty body', () => refused('', 400, /empty/));
  it('a body that is not a plist', () => refused('{"MessageType":"TokenUpdate"}', 400, /not a valid plist/));
  it('malformed XML', () =>
    refused(plistDoc('<dict><key>MessageType</key><string>TokenUpdate</dict>'), 400, /not a valid plist/));
  it('a truncated binary plist', () =>
    refused(fixtureBytes('iphone-token-update.bplist').subarray(0, 120), 400, /not a valid plist/));
  it('a plist that is an array, not a dictionary', () =>
    refused(plistDoc('<array><string>TokenUpdate</string></array>'), 400, /must be a dictionary/));
  it('no MessageType', () =>
    refused(xmlMessage('ipad-token-update.plist', { MessageType: undefined }), 400, /no MessageType/));
  it('a MessageType that is not a string', () =>
    refused(xmlMessage('ipad-token-update.plist', { MessageType: 7 }), 400, /MessageType must be a string/));
  it('an unknown MessageType', () =>
    refused(
      xmlMessage('ipad-token-update.plist', { MessageType: 'FlyToTheMoon' }),
      400,
      /unknown MessageType "FlyToTheMoon"/,
    ));
  it('an Apple MessageType this server does not implement yet says so', () =>
    refused(
      xmlMessage('ipad-token-update.plist', { MessageType: 'ReturnToService' }),
      400,
      /ReturnToService is not supported/,
    ));

  it('TokenUpdate without Token', () =>
    refused(xmlMessage('ipad-token-update.plist', { UDID: enrolled, Token: undefined }), 400, /Token must be <data>/));
  it('TokenUpdate with Token as a string', () =>
    refused(xmlMessage('ipad-token-update.plist', { UDID: enrolled, Token: 'abcd' }), 400, /Token must be <data>/));
  it('TokenUpdate without PushMagic', () =>
    refused(xmlMessage('ipad-token-update.plist', { UDID: enrolled, PushMagic: undefined }), 400, /PushMagic/));
  it('TokenUpdate with UnlockToken as a string', () =>
    refused(
      xmlMessage('ipad-token-update.plist', { UDID: enrolled, UnlockToken: 'x' }),
      400,
      /UnlockToken must be <data>/,
    ));
  it('TokenUpdate with AwaitingConfiguration as a string', () =>
    refused(
      xmlMessage('ipad-token-update.plist', { UDID: enrolled, AwaitingConfiguration: 'yes' }),
      400,
      /AwaitingConfiguration/,
    ));
  it('TokenUpdate without Topic', () =>
    refused(
      xmlMessage('ipad-token-update.plist', { UDID: enrolled, Topic: undefined }),
      400,
      /Topic must be a string/,
    ));
  it('TokenUpdate with a Topic outside com.apple.mgmt.', () =>
    refused(
      xmlMessage('ipad-token-update.plist', { UDID: enrolled, Topic: 'com.example.push' }),
      400,
      /Topic must start with com.apple.mgmt./,
    ));
  it('Authenticate with a Topic outside com.apple.mgmt.', () =>
    refused(
      xmlMessage('ipad-authenticate.plist', { UDID: newUdid(), Topic: 'com.apple.mgmt.' }),
      400,
      /Topic must start/,
    ));
  it('Authenticate with a SerialNumber of the wrong type', () =>
    refused(
      xmlMessage('ipad-authenticate.plist', { UDID: newUdid(), SerialNumber: 42 }),
      400,
      /SerialNumber must be a string/,
    ));
  it('a message with neither UDID nor EnrollmentID', () =>
    refused(xmlMessage('ipad-token-update.plist', { UDID: undefined }), 400, /neither UDID nor EnrollmentID/));
  it('a message with UDID, EnrollmentID and EnrollmentUserID', () =>
    refused(
      xmlMessage('ipad-token-update.plist', { UDID: enrolled, EnrollmentID: 'ABC', EnrollmentUserID: 'DEF' }),
      400,
      /ambiguous/,
    ));
  it('a UDID containing the id separator', () =>
    refused(xmlMessage('ipad-token-update.plist', { UDID: `${enrolled}:x` }), 400, /UDID must be a string/));
  it('a UDID that is too long', () =>
    refused(
      xmlMessage('ipad-authenticate.plist', { UDID: 'A'.repeat(129) }),
      400,
      /UDID must be a string of 1 to 128/,
    ));

  it('a TokenUpdate from a device that never sent Authenticate', () =>
    refused(xmlMessage('ipad-token-update.plist', { UDID: newUdid() }), 400, /has not sent Authenticate/));
  it('a TokenUpdate for the device side of a User Enrollment that never authenticated', () =>
    refused(
      xmlMessage('user-enrollment-token-update.plist', { EnrollmentID: 'NEVER-SEEN-1' }),
      400,
      /has not sent Authenticate/,
    ));

  it('a device-channel-only message on a user channel says so', () =>
    refused(
      xmlMessage('mac-set-bootstrap-token.plist', {
        UDID: enrolled,
        UserShortName: 'alex@example.org',
        UserID: 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
      }),
      400,
      /SetBootstrapToken on a user channel is not supported/,
    ));

  it('a body over CHECKIN_MAX_BODY_BYTES with Content-Length: 413', () =>
    refused(
      bigger('ipad-token-update.plist', { UDID: enrolled, Padding: 'x'.repeat(5000) }),
      413,
      /larger than 4096 bytes/,
    ));

  it('a body over CHECKIN_MAX_BODY_BYTES sent chunked: 413', async () => {
    const before = await snapshot(t.dataSource);
    const body = bigger('ipad-token-update.plist', { UDID: enrolled, Padding: 'y'.repeat(6000) });
    const r = await sendChunked(t.url, [body.subarray(0, 1000), body.subarray(1000, 3000), body.subarray(3000)]);
    assert.equal(r.status, 413);
    assert.deepEqual(await snapshot(t.dataSource), before);
  });

  it('a plist nested hundreds deep', () =>
    refused(
      plistDoc(
        `<dict><key>MessageType</key><string>TokenUpdate</string><key>X</key>${'<array>'.repeat(200)}${'</array>'.repeat(200)}</dict>`,
      ),
      400,
      /nesting deeper/,
    ));

  it('a DOCTYPE that defines entities (billion laughs, XXE)', () =>
    refused(
      '<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>' +
        '<plist version="1.0"><dict><key>MessageType</key><string>&b;</string></dict></plist>',
      400,
      /internal subset/,
    ));

  it('a __proto__ key', () =>
    refused(
      plistDoc('<dict><key>MessageType</key><string>TokenUpdate</string><key>__proto__</key><dict/></dict>'),
      400,
      /__proto__/,
    ));

  it('a duplicate key', () =>
    refused(
      plistDoc(
        `<dict><key>MessageType</key><string>Authenticate</string><key>UDID</key><string>${enrolled}</string><key>UDID</key><string>OTHER</string></dict>`,
      ),
      400,
      /duplicate key/,
    ));

  it('SetBootstrapToken with a BootstrapToken that is not data', () =>
    refused(
      xmlMessage('mac-set-bootstrap-token.plist', { UDID: enrolled, BootstrapToken: 'secret' }),
      400,
      /BootstrapToken must be <data>/,
    ));
  it('SetBootstrapToken before the first TokenUpdate', () =>
    refused(xmlMessage('mac-set-bootstrap-token.plist', { UDID: authenticatedOnly }), 400, /not known/));
  it('CheckOut for an unknown device', () =>
    refused(xmlMessage('checkout.plist', { UDID: newUdid() }), 400, /not known/));

  it('the failures are logged with their reason, at warn, without the body', () => {
    const lines = t.logs.entries().filter((l) => l.msg === 'checkin' && l.status === 400);
    assert.ok(lines.length > 10);
    for (const l of lines) {
      assert.equal(l.level, 'warn');
      assert.equal(typeof l.reason, 'string');
      assert.equal(typeof l.error, 'string');
    }
    assert.ok(lines.some((l) => l.error === 'UNKNOWN_DEVICE'));
  });
});
