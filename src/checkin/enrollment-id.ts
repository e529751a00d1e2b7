/**
 * Which enrollment a check-in message belongs to, derived from its identity keys only.
 * The convention (DESIGN.md, "Enrollment ids") matches the Go servers so records can be
 * migrated between them:
 *
 * | channel                          | id                               | type                       |
 * |----------------------------------|----------------------------------|----------------------------|
 * | device channel                   | UDID                             | Device                     |
 * | User Enrollment, device side     | EnrollmentID                     | User Enrollment (Device)   |
 * | User Enrollment, user side       | EnrollmentID:EnrollmentUserID    | User Enrollment            |
 * | macOS user channel               | UDID:UserID                      | User                       |
 * | Shared iPad user                 | UDID:UserShortName               | Shared iPad                |
 *
 * See "Identifying the enrollment" in shared/spec/CHECKIN-MESSAGES.md.
 */
export const ENROLLMENT_TYPES = [
  'Device',
  'User Enrollment (Device)',
  'User Enrollment',
  'User',
  'Shared iPad',
] as const;
export type EnrollmentType = (typeof ENROLLMENT_TYPES)[number];

/** Shared iPad sends this UserID for every user; it never tells users apart. */
export const SHARED_IPAD_USER_ID = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF';

export type Channel = 'device' | 'user';

export interface ResolvedEnrollment {
  /** The enrollment id per the table above. */
  readonly id: string;
  readonly type: EnrollmentType;
  readonly channel: Channel;
  /** The device-channel id: the device record's key (UDID, or EnrollmentID). */
  readonly deviceId: string;
  /** For a user channel, the device channel's enrollment id; `null` on the device channel. */
  readonly parentId: string | null;
  /** User-channel identity as sent, for the user record. */
  readonly userId?: string;
  readonly userShortName?: string;
}

/** The identity keys a message may carry; any may be absent. */
export interface IdentityKeys {
  UDID?: unknown;
  EnrollmentID?: unknown;
  EnrollmentUserID?: unknown;
  UserID?: unknown;
  UserShortName?: unknown;
}

export class EnrollmentIdError extends Error {}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Resolves the enrollment from the identity keys, or throws {@link EnrollmentIdError}. */
export function resolveEnrollment(keys: IdentityKeys): ResolvedEnrollment {
  const udid = str(keys.UDID);
  const enrollmentId = str(keys.EnrollmentID);
  const enrollmentUserId = str(keys.EnrollmentUserID);
  const userId = str(keys.UserID);
  const userShortName = str(keys.UserShortName);

  if (udid !== undefined && enrollmentId !== undefined) {
    throw new EnrollmentIdError('UDID and EnrollmentID are mutually exclusive');
  }
  if (enrollmentId !== undefined) {
    if (enrollmentUserId !== undefined) {
      return {
        id: `${enrollmentId}:${enrollmentUserId}`,
        type: 'User Enrollment',
        channel: 'user',
        deviceId: enrollmentId,
        parentId: enrollmentId,
        userId: enrollmentUserId,
        ...(userShortName !== undefined ? { userShortName } : {}),
      };
    }
    if (userId !== undefined || userShortName !== undefined) {
      throw new EnrollmentIdError('a User Enrollment user channel must carry EnrollmentUserID');
    }
    return {
      id: enrollmentId,
      type: 'User Enrollment (Device)',
      channel: 'device',
      deviceId: enrollmentId,
      parentId: null,
    };
  }
  if (udid === undefined) {
    throw new EnrollmentIdError('the message carries neither UDID nor EnrollmentID');
  }
  if (enrollmentUserId !== undefined) {
    throw new EnrollmentIdError('EnrollmentUserID requires EnrollmentID, not UDID');
  }
  if (userId === undefined && userShortName === undefined) {
    return { id: udid, type: 'Device', channel: 'device', deviceId: udid, parentId: null };
  }
  // Shared iPad: the all-F UserID is the same for everyone, so the short name (the Managed
  // Apple Account) is the identity. A missing UserID with a short name is treated the same.
  if (userId === undefined || userId.toUpperCase() === SHARED_IPAD_USER_ID) {
    if (userShortName === undefined) {
      throw new EnrollmentIdError('a Shared iPad user channel must carry UserShortName');
    }
    return {
      id: `${udid}:${userShortName}`,
      type: 'Shared iPad',
      channel: 'user',
      deviceId: udid,
      parentId: udid,
      userId: userId ?? SHARED_IPAD_USER_ID,
      userShortName,
    };
  }
  return {
    id: `${udid}:${userId}`,
    type: 'User',
    channel: 'user',
    deviceId: udid,
    parentId: udid,
    userId,
    ...(userShortName !== undefined ? { userShortName } : {}),
  };
}
