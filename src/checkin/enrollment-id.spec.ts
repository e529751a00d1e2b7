import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENROLLMENT_TYPES, EnrollmentIdError, SHARED_IPAD_USER_ID, resolveEnrollment } from './enrollment-id.js';
import type { IdentityKeys } from './enrollment-id.js';

const UDID = '00008103-0012345A3E88801E';
const MAC_UDID = '564D2E7A-3B1F-5C9E-8A46-D2F1B7E0C3A9';
const ENROLLMENT_ID = '7D6C1F0A2B9E4D3C8A5F1E0B9C2D7A64';
const ENROLLMENT_USER_ID = 'A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF';
const USER_ID = '0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0';

function assertRefused(keys: IdentityKeys, message: RegExp): void {
  assert.throws(
    () => resolveEnrollment(keys),
    (err: unknown) => {
      assert.ok(err instanceof EnrollmentIdError, `expected an EnrollmentIdError, got ${String(err)}`);
      assert.match(err.message, message);
      return true;
    },
  );
}

describe('resolveEnrollment: the id table', () => {
  it('device channel: the UDID, type Device, no parent', () => {
    assert.deepStrictEqual(resolveEnrollment({ UDID }), {
      id: UDID,
      type: 'Device',
      channel: 'device',
      deviceId: UDID,
      parentId: null,
    });
  });

  it('User Enrollment, device side: the EnrollmentID', () => {
    assert.deepStrictEqual(resolveEnrollment({ EnrollmentID: ENROLLMENT_ID }), {
      id: ENROLLMENT_ID,
      type: 'User Enrollment (Device)',
      channel: 'device',
      deviceId: ENROLLMENT_ID,
      parentId: null,
    });
  });

  it('User Enrollment, user side: EnrollmentID:EnrollmentUserID, parent is the EnrollmentID', () => {
    assert.deepStrictEqual(resolveEnrollment({ EnrollmentID: ENROLLMENT_ID, EnrollmentUserID: ENROLLMENT_USER_ID }), {
      id: `${ENROLLMENT_ID}:${ENROLLMENT_USER_ID}`,
      type: 'User Enrollment',
      channel: 'user',
      deviceId: ENROLLMENT_ID,
      parentId: ENROLLMENT_ID,
      userId: ENROLLMENT_USER_ID,
    });
  });

  it('User Enrollment, user side: keeps UserShortName when sent', () => {
    const resolved = resolveEnrollment({
      EnrollmentID: ENROLLMENT_ID,
      EnrollmentUserID: ENROLLMENT_USER_ID,
      UserShortName: 'jane@example.com',
    });
    assert.equal(resolved.id, `${ENROLLMENT_ID}:${ENROLLMENT_USER_ID}`);
    assert.equal(resolved.userShortName, 'jane@example.com');
  });

  it('macOS user channel: UDID:UserID, type User, parent is the UDID', () => {
    assert.deepStrictEqual(resolveEnrollment({ UDID: MAC_UDID, UserID: USER_ID, UserShortName: 'jane' }), {
      id: `${MAC_UDID}:${USER_ID}`,
      type: 'User',
      channel: 'user',
      deviceId: MAC_UDID,
      parentId: MAC_UDID,
      userId: USER_ID,
      userShortName: 'jane',
    });
  });

  it('macOS user channel without UserShortName: no userShortName property', () => {
    const resolved = resolveEnrollment({ UDID: MAC_UDID, UserID: USER_ID });
    assert.equal(resolved.id, `${MAC_UDID}:${USER_ID}`);
    assert.equal(resolved.type, 'User');
    assert.equal('userShortName' in resolved, false);
  });

  it('Shared iPad user: UDID:UserShortName when UserID is the all-F UUID', () => {
    assert.deepStrictEqual(
      resolveEnrollment({ UDID, UserID: SHARED_IPAD_USER_ID, UserShortName: 'student42@school.example' }),
      {
        id: `${UDID}:student42@school.example`,
        type: 'Shared iPad',
        channel: 'user',
        deviceId: UDID,
        parentId: UDID,
        userId: SHARED_IPAD_USER_ID,
        userShortName: 'student42@school.example',
      },
    );
  });

  it('Shared iPad user: recognises the all-F UUID case-insensitively and keeps it as sent', () => {
    for (const userId of [SHARED_IPAD_USER_ID.toLowerCase(), 'ffffFFFF-ffff-FFFF-ffff-FFFFffffFFFF']) {
      const resolved = resolveEnrollment({ UDID, UserID: userId, UserShortName: 'student' });
      assert.equal(resolved.type, 'Shared iPad', userId);
      assert.equal(resolved.id, `${UDID}:student`);
      assert.equal(resolved.userId, userId);
    }
  });

  it('Shared iPad user: a short name without any UserID is treated the same', () => {
    const resolved = resolveEnrollment({ UDID, UserShortName: 'student' });
    assert.equal(resolved.type, 'Shared iPad');
    assert.equal(resolved.id, `${UDID}:student`);
    assert.equal(resolved.userId, SHARED_IPAD_USER_ID);
    assert.equal(resolved.parentId, UDID);
  });

  it('a UserID that merely resembles the all-F UUID is an ordinary user', () => {
    const almost = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFE';
    const resolved = resolveEnrollment({ UDID, UserID: almost, UserShortName: 'jane' });
    assert.equal(resolved.type, 'User');
    assert.equal(resolved.id, `${UDID}:${almost}`);
  });

  it('every type it returns is listed in ENROLLMENT_TYPES, and all are reachable', () => {
    const types = new Set(
      [
        resolveEnrollment({ UDID }),
        resolveEnrollment({ EnrollmentID: ENROLLMENT_ID }),
        resolveEnrollment({ EnrollmentID: ENROLLMENT_ID, EnrollmentUserID: ENROLLMENT_USER_ID }),
        resolveEnrollment({ UDID, UserID: USER_ID }),
        resolveEnrollment({ UDID, UserID: SHARED_IPAD_USER_ID, UserShortName: 's' }),
      ].map((r) => r.type),
    );
    assert.deepStrictEqual([...types].sort(), [...ENROLLMENT_TYPES].sort());
  });
});

describe('resolveEnrollment: parents', () => {
  it('user channels point to the device channel of the same device', () => {
    const device = resolveEnrollment({ UDID: MAC_UDID });
    const user = resolveEnrollment({ UDID: MAC_UDID, UserID: USER_ID });
    assert.equal(user.parentId, device.id);
    assert.equal(user.deviceId, device.deviceId);

    const ueDevice = resolveEnrollment({ EnrollmentID: ENROLLMENT_ID });
    const ueUser = resolveEnrollment({ EnrollmentID: ENROLLMENT_ID, EnrollmentUserID: ENROLLMENT_USER_ID });
    assert.equal(ueUser.parentId, ueDevice.id);
    assert.equal(ueUser.deviceId, ueDevice.deviceId);

    const ipad = resolveEnrollment({ UDID });
    const student = resolveEnrollment({ UDID, UserID: SHARED_IPAD_USER_ID, UserShortName: 's' });
    assert.equal(student.parentId, ipad.id);
  });

  it('device channels have no parent', () => {
    assert.equal(resolveEnrollment({ UDID }).parentId, null);
    assert.equal(resolveEnrollment({ EnrollmentID: ENROLLMENT_ID }).parentId, null);
  });

  it('two Shared iPad users on one device get different ids', () => {
    const a = resolveEnrollment({ UDID, UserID: SHARED_IPAD_USER_ID, UserShortName: 'a' });
    const b = resolveEnrollment({ UDID, UserID: SHARED_IPAD_USER_ID, UserShortName: 'b' });
    assert.notEqual(a.id, b.id);
  });
});

describe('resolveEnrollment: UDID beside EnrollmentID', () => {
  it('is the UDID device channel; the EnrollmentID is reported as ignored', () => {
    assert.deepStrictEqual(resolveEnrollment({ UDID, EnrollmentID: ENROLLMENT_ID }), {
      id: UDID,
      type: 'Device',
      channel: 'device',
      deviceId: UDID,
      parentId: null,
      ignoredEnrollmentId: ENROLLMENT_ID,
    });
  });

  it('on a macOS user channel too', () => {
    const r = resolveEnrollment({ UDID: MAC_UDID, EnrollmentID: ENROLLMENT_ID, UserID: USER_ID });
    assert.equal(r.id, `${MAC_UDID}:${USER_ID}`);
    assert.equal(r.type, 'User');
    assert.equal(r.ignoredEnrollmentId, ENROLLMENT_ID);
  });

  it('is not reported without an EnrollmentID', () => {
    assert.equal(resolveEnrollment({ UDID }).ignoredEnrollmentId, undefined);
  });
});

describe('resolveEnrollment: refusals', () => {
  it('UDID, EnrollmentID and EnrollmentUserID together cannot be placed', () => {
    assertRefused({ UDID, EnrollmentID: ENROLLMENT_ID, EnrollmentUserID: ENROLLMENT_USER_ID }, /ambiguous/);
  });

  it('a macOS UserID that is not a GUID', () => {
    assertRefused({ UDID: MAC_UDID, UserID: 'alice' }, /UserID must be the user's GUID/);
    assertRefused({ UDID: MAC_UDID, UserID: 'alice', UserShortName: 'alice' }, /UserID must be the user's GUID/);
  });

  it('a Shared iPad short name shaped like a GUID', () => {
    assertRefused({ UDID, UserShortName: USER_ID }, /may not have the shape of a GUID/);
    assertRefused({ UDID, UserID: SHARED_IPAD_USER_ID, UserShortName: USER_ID.toLowerCase() }, /shape of a GUID/);
  });

  it('neither UDID nor EnrollmentID', () => {
    assertRefused({}, /neither UDID nor EnrollmentID/);
    assertRefused({ UserID: USER_ID, UserShortName: 'jane' }, /neither UDID nor EnrollmentID/);
    assertRefused({ EnrollmentUserID: ENROLLMENT_USER_ID }, /neither UDID nor EnrollmentID/);
  });

  it('empty strings and non-strings count as absent', () => {
    assertRefused({ UDID: '' }, /neither UDID nor EnrollmentID/);
    assertRefused({ UDID: 42, EnrollmentID: null }, /neither UDID nor EnrollmentID/);
    assertRefused({ UDID: Buffer.from(UDID) }, /neither UDID nor EnrollmentID/);
    // An empty EnrollmentID next to a real UDID is not a conflict.
    assert.equal(resolveEnrollment({ UDID, EnrollmentID: '' }).type, 'Device');
    // An empty UserID / UserShortName does not make a user channel.
    assert.equal(resolveEnrollment({ UDID, UserID: '', UserShortName: '' }).type, 'Device');
    assert.equal(
      resolveEnrollment({ EnrollmentID: ENROLLMENT_ID, EnrollmentUserID: '' }).type,
      'User Enrollment (Device)',
    );
  });

  it('a User Enrollment user channel without EnrollmentUserID', () => {
    assertRefused({ EnrollmentID: ENROLLMENT_ID, UserID: USER_ID }, /must carry EnrollmentUserID/);
    assertRefused({ EnrollmentID: ENROLLMENT_ID, UserShortName: 'jane' }, /must carry EnrollmentUserID/);
  });

  it('EnrollmentUserID next to a UDID', () => {
    assertRefused({ UDID, EnrollmentUserID: ENROLLMENT_USER_ID }, /EnrollmentUserID requires EnrollmentID/);
    assertRefused({ UDID, UserID: USER_ID, EnrollmentUserID: ENROLLMENT_USER_ID }, /requires EnrollmentID/);
  });

  it('a Shared iPad user channel without UserShortName', () => {
    assertRefused({ UDID, UserID: SHARED_IPAD_USER_ID }, /Shared iPad user channel must carry UserShortName/);
    assertRefused({ UDID, UserID: SHARED_IPAD_USER_ID.toLowerCase(), UserShortName: '' }, /must carry UserShortName/);
  });

  it('EnrollmentIdError is an Error', () => {
    assert.ok(new EnrollmentIdError('x') instanceof Error);
  });
});
