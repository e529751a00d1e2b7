import { Column, Entity, Index, OneToMany, PrimaryColumn } from 'typeorm';
import type { EnrollmentEntity } from './enrollment.entity.js';

/**
 * One managed device, keyed by its device-channel id: the UDID, or the EnrollmentID of a
 * User Enrollment (which has no UDID). UnlockToken and bootstrap token are stored sealed
 * (see SecretBox) and never leave the service through the API.
 */
@Entity({ name: 'devices' })
@Index('idx_devices_updated_at', ['updatedAt', 'id'])
export class DeviceEntity {
  @PrimaryColumn({ type: 'varchar', length: 255 })
  id: string;

  @Index('idx_devices_serial_number')
  @Column({ name: 'serial_number', type: 'varchar', length: 64, nullable: true })
  serialNumber: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  model: string | null;

  @Column({ name: 'model_name', type: 'varchar', length: 128, nullable: true })
  modelName: string | null;

  @Column({ name: 'os_version', type: 'varchar', length: 32, nullable: true })
  osVersion: string | null;

  @Column({ name: 'build_version', type: 'varchar', length: 32, nullable: true })
  buildVersion: string | null;

  @Column({ name: 'product_name', type: 'varchar', length: 64, nullable: true })
  productName: string | null;

  @Column({ name: 'device_name', type: 'varchar', length: 255, nullable: true })
  deviceName: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  imei: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  meid: string | null;

  /** The last Authenticate body exactly as the device sent it (XML or binary plist). */
  @Column({ name: 'last_authenticate', type: 'blob', nullable: true })
  lastAuthenticate: Buffer | null;

  @Column({ name: 'last_authenticate_at', type: 'datetime', precision: 3, nullable: true })
  lastAuthenticateAt: Date | null;

  @Column({ name: 'unlock_token', type: 'blob', nullable: true, select: false })
  unlockToken: Buffer | null;

  @Column({ name: 'unlock_token_at', type: 'datetime', precision: 3, nullable: true })
  unlockTokenAt: Date | null;

  @Column({ name: 'bootstrap_token', type: 'blob', nullable: true, select: false })
  bootstrapToken: Buffer | null;

  @Column({ name: 'bootstrap_token_at', type: 'datetime', precision: 3, nullable: true })
  bootstrapTokenAt: Date | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt: Date;

  @OneToMany('EnrollmentEntity', (e: EnrollmentEntity) => e.device)
  enrollments?: EnrollmentEntity[];
}
