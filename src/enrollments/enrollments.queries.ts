import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { EnrollmentType } from '../checkin/enrollment-id.js';
import { DeviceEntity } from './entities/device.entity.js';
import { EnrollmentEntity } from './entities/enrollment.entity.js';

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

/** What a user channel's view needs of its enrollment row. */
export interface ChannelState {
  id: string;
  enabled: boolean;
  lastSeenAt: Date;
}

/**
 * The read side for administrators. Secret columns are never selected; whether a secret is
 * held is read from its timestamp, which is set and cleared with it.
 */
@Injectable()
export class EnrollmentsQueries {
  constructor(
    @InjectRepository(DeviceEntity) private readonly devices: Repository<DeviceEntity>,
    @InjectRepository(EnrollmentEntity) private readonly enrollments: Repository<EnrollmentEntity>,
  ) {}

  async device(udid: string): Promise<DeviceView | undefined> {
    const device = await this.devices.findOne({ where: { id: udid } });
    if (device === null) return undefined;
    const enrollments = await this.enrollments.find({
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

  /** Every enrollment (device and user channels) of the device: id, whether enabled, when last seen. */
  async channelsOfDevice(udid: string): Promise<ChannelState[]> {
    const rows = await this.enrollments.find({ where: { deviceId: udid } });
    return rows.map((e) => ({ id: e.id, enabled: e.enabled, lastSeenAt: e.lastSeenAt }));
  }

  async enrollment(id: string): Promise<EnrollmentView | undefined> {
    const e = await this.enrollments.findOne({ where: { id }, relations: { device: true } });
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
