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
  /**
   * Set when the message carried an EnrollmentID beside its UDID: Apple does not forbid that
   * outside User Enrollment, and the UDID wins. The caller logs it as a warning.
   */
  readonly ignoredEnrollmentId?: string;
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

/**
 * A GUID as macOS writes a user's GeneratedUID. A macOS user channel's UserID must have this
 * shape and a Shared iPad short name must not, so `UDID:UserID` and `UDID:UserShortName`
 * can never name the same enrollment (a short name "alice" and a UserID "alice" would).
 */
const GUID_RE = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

/** Resolves the enrollment from the identity keys, or throws {@link EnrollmentIdError}. */
export function resolveEnrollment(keys: IdentityKeys): ResolvedEnrollment {
  const udid = str(keys.UDID);
  const enrollmentId = str(keys.EnrollmentID);
  const enrollmentUserId = str(keys.EnrollmentUserID);
  const userId = str(keys.UserID);
  const userShortName = str(keys.UserShortName);

  if (udid !== undefined && enrollmentId !== undefined) {
    // A User Enrollment user channel never carries the UDID: both together cannot be placed.
    if (enrollmentUserId !== undefined) {
      throw new EnrollmentIdError('EnrollmentUserID with both UDID and EnrollmentID is ambiguous');
    }
    return { ...resolveUdidChannel(udid, userId, userShortName), ignoredEnrollmentId: enrollmentId };
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
  return resolveUdidChannel(udid, userId, userShortName);
}

/** The device channel of a UDID, or one of its user channels (macOS user, Shared iPad user). */
function resolveUdidChannel(
  udid: string,
  userId: string | undefined,
  userShortName: string | undefined,
): ResolvedEnrollment {
  if (userId === undefined && userShortName === undefined) {
    return { id: udid, type: 'Device', channel: 'device', deviceId: udid, parentId: null };
  }
  // Shared iPad: the all-F UserID is the same for everyone, so the short name (the Managed
  // Apple Account) is the identity. A missing UserID with a short name is treated the same.
  if (userId === undefined || userId.toUpperCase() === SHARED_IPAD_USER_ID) {
    if (userShortName === undefined) {
      throw new EnrollmentIdError('a Shared iPad user channel must carry UserShortName');
    }
    if (GUID_RE.test(userShortName)) {
      throw new EnrollmentIdError('a Shared iPad UserShortName may not have the shape of a GUID (a macOS UserID)');
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
  if (!GUID_RE.test(userId)) {
    throw new EnrollmentIdError("a macOS user channel UserID must be the user's GUID");
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
