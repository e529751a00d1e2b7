import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build, buildBinary } from 'plist';
import { realBomb, sharedObjectBomb, xmlClaiming, xmlDocument } from '../../../test/support/hostile-bodies.js';
import { PEEK_BYTES, peekIdentityKeys } from './plist-peek.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'test', 'fixtures');
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));

const UDID = '00008120-0011223344556677';

describe('peekIdentityKeys: what a body claims, from a bounded look', () => {
  it('reads the identity keys of real XML and binary check-ins', () => {
    assert.deepEqual(Object.keys(peekIdentityKeys(fixture('ipad-token-update.plist'))), ['UDID']);
    assert.deepEqual(Object.keys(peekIdentityKeys(fixture('iphone-token-update.bplist'))), ['UDID']);
    const user = peekIdentityKeys(fixture('mac-user-token-update.plist'));
    assert.ok(user.UDID !== undefined && user.UserID !== undefined, JSON.stringify(user));
    const ue = peekIdentityKeys(fixture('user-enrollment-user-token-update.plist'));
    assert.ok(ue.EnrollmentID !== undefined && ue.EnrollmentUserID !== undefined, JSON.stringify(ue));
  });

  it('agrees with the plist package on generated messages', () => {
    const message = {
      MessageType: 'TokenUpdate',
      Topic: 'com.apple.mgmt.x',
      UDID,
      UserID: 'A1B2',
      UserShortName: 'alice & <bob>',
      Token: Buffer.from('abc'),
    };
    const expected = { UDID, UserID: 'A1B2', UserShortName: 'alice & <bob>' };
    assert.deepEqual(peekIdentityKeys(Buffer.from(build(message))), expected);
    assert.deepEqual(peekIdentityKeys(Buffer.from(buildBinary(message))), expected);
    assert.deepEqual(
      peekIdentityKeys(Buffer.from(buildBinary({ ...message, UserShortName: 'Zoë’s' }))).UserShortName,
      'Zoë’s',
    );
  });

  it('reads the claim at the start of a body whose rest no decoder should touch', () => {
    assert.deepEqual(peekIdentityKeys(realBomb(1024 * 1024, { UDID })), { UDID });
    assert.deepEqual(peekIdentityKeys(sharedObjectBomb({ identity: { MessageType: 'TokenUpdate', UDID } })), { UDID });
    // A body cut anywhere after the claim still names it.
    assert.deepEqual(peekIdentityKeys(xmlClaiming({ UDID }, '<string>never closed')), { UDID });
  });

  it('looks at no more than the first PEEK_BYTES of an XML body', () => {
    const padding = `<string>${'x'.repeat(PEEK_BYTES)}</string>`;
    const body = xmlDocument(`<dict><key>Pad</key>${padding}<key>UDID</key><string>${UDID}</string></dict>`);
    assert.deepEqual(peekIdentityKeys(body), {});
  });

  it('looks at no more than the first 64 entries of a binary top-level dictionary', () => {
    const early: Record<string, string> = { UDID };
    const late: Record<string, string> = {};
    for (let i = 0; i < 64; i++) late[`Key${String(i).padStart(2, '0')}`] = 'v';
    late.UDID = UDID;
    assert.deepEqual(peekIdentityKeys(Buffer.from(buildBinary(early))), { UDID });
    assert.deepEqual(peekIdentityKeys(Buffer.from(buildBinary(late))), {});
  });

  it('takes only the top-level dictionary’s keys, and only short string values', () => {
    const nested = xmlDocument(
      `<dict><key>Inner</key><dict><key>UDID</key><string>inner</string></dict><key>UserID</key><string>u</string></dict>`,
    );
    assert.deepEqual(peekIdentityKeys(nested), { UserID: 'u' });
    assert.deepEqual(peekIdentityKeys(xmlDocument(`<dict><key>UDID</key><data>AAAA</data></dict>`)), {});
    assert.deepEqual(
      peekIdentityKeys(xmlDocument(`<dict><key>UDID</key><string>${'u'.repeat(300)}</string></dict>`)),
      {},
    );
    assert.deepEqual(peekIdentityKeys(Buffer.from(buildBinary({ UDID: 'u'.repeat(300) }))), {});
    assert.deepEqual(peekIdentityKeys(Buffer.from(buildBinary({ UDID: 7 }))), {});
    // A key whose value is a container does not lend its name to the next string.
    assert.deepEqual(peekIdentityKeys(xmlDocument(`<dict><key>UDID</key><array/><string>stray</string></dict>`)), {});
  });

  it('returns nothing, and never throws, for bodies that are not plists or are corrupt', () => {
    for (const body of [
      Buffer.alloc(0),
      Buffer.from('{"UDID":"x"}'),
      Buffer.from('bplist00'),
      Buffer.from('<<<<>>>><key>UDID</key>'),
      fixture('iphone-token-update.bplist').subarray(0, 100),
    ]) {
      assert.deepEqual(peekIdentityKeys(body), {});
    }
    const full = fixture('iphone-token-update.bplist');
    for (let at = 0; at < full.length; at++) {
      for (const b of [0x00, 0xff, full[at]! ^ 0x80]) {
        const copy = Buffer.from(full);
        copy[at] = b;
        const found = peekIdentityKeys(copy);
        for (const v of Object.values(found)) assert.ok(typeof v === 'string' && v.length <= 256);
      }
    }
  });
});
