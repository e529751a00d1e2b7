import type { DeviceCondition } from '../common/device-condition.js';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In } from 'typeorm';
import type { Repository, SelectQueryBuilder } from 'typeorm';
import type { EnrollmentType } from '../checkin/enrollment-id.js';
import { keysetPage, pageOf } from '../common/keyset-page.js';
import type { Page, PageRequest } from '../common/keyset-page.js';
import { DatabaseService } from '../database/database.service.js';
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

/** What a device list can be narrowed to; every field given must hold. */
export interface DeviceFilter {
  serialNumber?: string;
  /** Devices changed at or after this instant. */
  updatedSince?: Date;
  /** A condition on the device from another module (e.g. device-identity's certificate expiry). */
  device?: DeviceCondition;
}

/** What an enrollment list can be narrowed to; every field given must hold. */
export interface EnrollmentFilter {
  type?: EnrollmentType;
  enabled?: boolean;
  awaitingConfiguration?: boolean;
  topic?: string;
  deviceId?: string;
  tokenUpdateCount?: number;
  updatedSince?: Date;
  /** A condition on the enrollment's device from another module (e.g. certificate expiry). */
  device?: DeviceCondition;
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
    @Inject(DatabaseService) private readonly db: DatabaseService,
  ) {}

  /** One page of devices, each with its enrollments (two statements, whatever the page size). */
  async listDevices(filter: DeviceFilter, page: PageRequest): Promise<Page<DeviceView>> {
    const qb = this.devices.createQueryBuilder('d');
    if (filter.serialNumber !== undefined) qb.andWhere('d.serial_number = :serial', { serial: filter.serialNumber });
    if (filter.updatedSince !== undefined) {
      qb.andWhere('d.updated_at >= :updatedSince', { updatedSince: this.db.date(filter.updatedSince) });
    }
    this.deviceCondition(qb, 'd.id', filter.device);
    const rows = await keysetPage(qb, 'd', page, (d) => this.db.date(d)).getMany();
    const ids = rows.slice(0, page.limit).map((d) => d.id);
    const enrollments =
      ids.length === 0
        ? []
        : await this.enrollments.find({ where: { deviceId: In(ids) }, order: { createdAt: 'ASC', id: 'ASC' } });
    const byDevice = new Map<string, EnrollmentEntity[]>();
    for (const e of enrollments) byDevice.set(e.deviceId, [...(byDevice.get(e.deviceId) ?? []), e]);
    return pageOf(rows, page, (kept) => kept.map((d) => deviceView(d, byDevice.get(d.id) ?? [])));
  }

  /** One page of enrollments, device and user channels alike. */
  async listEnrollments(filter: EnrollmentFilter, page: PageRequest): Promise<Page<EnrollmentView>> {
    const qb = this.enrollments.createQueryBuilder('e').leftJoinAndSelect('e.device', 'device');
    const equal: [Exclude<keyof EnrollmentFilter, 'updatedSince' | 'device'>, string][] = [
      ['type', 'e.type'],
      ['enabled', 'e.enabled'],
      ['awaitingConfiguration', 'e.awaiting_configuration'],
      ['topic', 'e.topic'],
      ['deviceId', 'e.device_id'],
      ['tokenUpdateCount', 'e.token_update_count'],
    ];
    for (const [key, column] of equal) {
      const value = filter[key];
      // Booleans are stored as 1/0 on both drivers, and better-sqlite3 binds no booleans.
      const param = typeof value === 'boolean' ? Number(value) : value;
      if (value !== undefined) qb.andWhere(`${column} = :${key}`, { [key]: param });
    }
    if (filter.updatedSince !== undefined) {
      qb.andWhere('e.updated_at >= :updatedSince', { updatedSince: this.db.date(filter.updatedSince) });
    }
    this.deviceCondition(qb, 'e.device_id', filter.device);
    const rows = await keysetPage(qb, 'e', page, (d) => this.db.date(d)).getMany();
    return pageOf(rows, page, (kept) => kept.map((e) => enrollmentView(e, e.device?.unlockTokenAt != null)));
  }

  /** Rows whose device meets a condition another module wrote (see DeviceCondition). */
  private deviceCondition<T extends object>(
    qb: SelectQueryBuilder<T>,
    deviceIdColumn: string,
    condition: DeviceCondition | undefined,
  ): void {
    if (condition !== undefined) qb.andWhere(condition.sql(deviceIdColumn), { ...condition.params });
  }

  /** The channel state of the given enrollments (those that exist). */
  async channels(ids: readonly string[]): Promise<ChannelState[]> {
    if (ids.length === 0) return [];
    const rows = await this.enrollments.find({ where: { id: In([...ids]) } });
    return rows.map((e) => ({ id: e.id, enabled: e.enabled, lastSeenAt: e.lastSeenAt }));
  }

  async device(udid: string): Promise<DeviceView | undefined> {
    const device = await this.devices.findOne({ where: { id: udid } });
    if (device === null) return undefined;
    const enrollments = await this.enrollments.find({
      where: { deviceId: udid },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
    return deviceView(device, enrollments);
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

/** A device and its enrollments (ordered by creation) as the admin API shows them. */
function deviceView(device: DeviceEntity, enrollments: EnrollmentEntity[]): DeviceView {
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
