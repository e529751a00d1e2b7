import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EnrollmentType } from '../checkin/enrollment-id.js';
import { DeviceEntity } from './entities/device.entity.js';
import { EnrollmentEntity } from './entities/enrollment.entity.js';
import { UserEntity } from './entities/user.entity.js';

export interface EnrollmentView {
  id: string;
  type: EnrollmentType;
  deviceId: string;
  parentId: string | null;
  topic: string;
  pushMagic: string;
  /** The APNs token in hex, as push providers expect it. */
  token: string;
  enabled: boolean;
  awaitingConfiguration: boolean;
  tokenUpdateCount: number;
  hasUnlockToken: boolean;
  lastSeenAt: string;
  createdAt: string;
  updatedAt: string;
}

export interface DeviceView {
  udid: string;
  serialNumber: string | null;
  model: string | null;
  modelName: string | null;
  osVersion: string | null;
  productName: string | null;
  buildVersion: string | null;
  deviceName: string | null;
  imei: string | null;
  meid: string | null;
  hasUnlockToken: boolean;
  hasBootstrapToken: boolean;
  /** When the UnlockToken held now was escrowed; null when none is held. */
  unlockTokenAt: string | null;
  /** When the bootstrap token held now was escrowed; null when none is held. */
  bootstrapTokenAt: string | null;
  /**
   * Whether the secret held was escrowed before the device's last Authenticate: it survived a
   * renewal or re-enrollment and may be stale. Null when none is held.
   */
  unlockTokenPredatesLastAuthenticate: boolean | null;
  bootstrapTokenPredatesLastAuthenticate: boolean | null;
  lastAuthenticateAt: string | null;
  createdAt: string;
  updatedAt: string;
  enrollments: EnrollmentView[];
}

export interface UserView {
  /** The user channel's enrollment id. */
  enrollmentId: string;
  type: EnrollmentType;
  userId: string | null;
  shortName: string | null;
  longName: string | null;
  notOnConsole: boolean | null;
  /** Whether the user channel is enabled; false until its first TokenUpdate. */
  enabled: boolean;
  /** The last message of this user channel (TokenUpdate or UserAuthenticate). */
  lastSeenAt: string | null;
  lastTokenUpdateAt: string | null;
  lastUserAuthenticateAt: string | null;
  /** declined, challenged, allowed, accepted or rejected; null when the user never sent UserAuthenticate. */
  userAuthenticateState: string | null;
}

/**
 * The read side for administrators. Secret columns are never selected; whether a secret is
 * held is read from its timestamp, which is set and cleared with it.
 */
@Injectable()
export class EnrollmentsQueries {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  async device(udid: string): Promise<DeviceView | undefined> {
    const device = await this.ds.getRepository(DeviceEntity).findOne({ where: { id: udid } });
    if (device === null) return undefined;
    const enrollments = await this.ds.getRepository(EnrollmentEntity).find({
      where: { deviceId: udid },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
    const hasUnlockToken = device.unlockTokenAt !== null;
    return {
      udid: device.id,
      serialNumber: device.serialNumber,
      model: device.model,
      modelName: device.modelName,
      osVersion: device.osVersion,
      productName: device.productName,
      buildVersion: device.buildVersion,
      deviceName: device.deviceName,
      imei: device.imei,
      meid: device.meid,
      hasUnlockToken,
      hasBootstrapToken: device.bootstrapTokenAt !== null,
      unlockTokenAt: device.unlockTokenAt?.toISOString() ?? null,
      bootstrapTokenAt: device.bootstrapTokenAt?.toISOString() ?? null,
      unlockTokenPredatesLastAuthenticate: predates(device.unlockTokenAt, device.lastAuthenticateAt),
      bootstrapTokenPredatesLastAuthenticate: predates(device.bootstrapTokenAt, device.lastAuthenticateAt),
      lastAuthenticateAt: device.lastAuthenticateAt?.toISOString() ?? null,
      createdAt: device.createdAt.toISOString(),
      updatedAt: device.updatedAt.toISOString(),
      enrollments: enrollments.map((e) => enrollmentView(e, hasUnlockToken)),
    };
  }

  /** The device's users with their channel's state; undefined when the device is unknown. */
  async users(udid: string): Promise<UserView[] | undefined> {
    if (!(await this.ds.getRepository(DeviceEntity).existsBy({ id: udid }))) return undefined;
    const users = await this.ds
      .getRepository(UserEntity)
      .find({ where: { deviceId: udid }, order: { createdAt: 'ASC', id: 'ASC' } });
    const enrollments = await this.ds.getRepository(EnrollmentEntity).find({ where: { deviceId: udid } });
    const byId = new Map(enrollments.map((e) => [e.id, e]));
    const iso = (d: Date | null | undefined): string | null => (d == null ? null : d.toISOString());
    return users.map((u) => {
      const e = byId.get(u.id);
      const seen = [e?.lastSeenAt, u.lastUserAuthenticateAt].filter((d): d is Date => d != null);
      return {
        enrollmentId: u.id,
        type: u.type,
        userId: u.userId,
        shortName: u.shortName,
        longName: u.longName,
        notOnConsole: u.notOnConsole,
        enabled: e?.enabled ?? false,
        lastSeenAt: iso(seen.sort((a, b) => b.getTime() - a.getTime())[0]),
        lastTokenUpdateAt: iso(u.lastTokenUpdateAt),
        lastUserAuthenticateAt: iso(u.lastUserAuthenticateAt),
        userAuthenticateState: u.userAuthenticateState,
      };
    });
  }

  async enrollment(id: string): Promise<EnrollmentView | undefined> {
    const e = await this.ds.getRepository(EnrollmentEntity).findOne({ where: { id }, relations: { device: true } });
    if (e === null) return undefined;
    return enrollmentView(e, e.device?.unlockTokenAt != null);
  }
}

/** Whether a secret escrowed at `escrowedAt` is older than the last Authenticate. */
function predates(escrowedAt: Date | null, lastAuthenticateAt: Date | null): boolean | null {
  if (escrowedAt === null) return null;
  return lastAuthenticateAt !== null && escrowedAt.getTime() < lastAuthenticateAt.getTime();
}

/** The UnlockToken belongs to the device channel; user channels never hold one. */
function enrollmentView(e: EnrollmentEntity, deviceHasUnlockToken: boolean): EnrollmentView {
  return {
    id: e.id,
    type: e.type,
    deviceId: e.deviceId,
    parentId: e.parentId,
    topic: e.topic,
    pushMagic: e.pushMagic,
    token: Buffer.from(e.token).toString('hex'),
    enabled: e.enabled,
    awaitingConfiguration: e.awaitingConfiguration,
    tokenUpdateCount: e.tokenUpdateCount,
    hasUnlockToken: e.parentId === null && deviceHasUnlockToken,
    lastSeenAt: e.lastSeenAt.toISOString(),
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}
