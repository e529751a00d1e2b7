import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import type { EnrollmentType } from '../../checkin/enrollment-id.js';
import { DeviceEntity } from './device.entity.js';

/**
 * One MDM channel with its own push credentials: the device channel, or a user channel
 * (macOS user, Shared iPad user, User Enrollment user) whose `parentId` is the device
 * channel's enrollment id. Ids follow the table in DESIGN.md.
 */
@Entity({ name: 'enrollments' })
@Index('idx_enrollments_updated_at', ['updatedAt', 'id'])
export class EnrollmentEntity {
  @PrimaryColumn({ type: 'varchar', length: 512 })
  id: string;

  @Index('idx_enrollments_device_id')
  @Column({ name: 'device_id', type: 'varchar', length: 255 })
  deviceId: string;

  @ManyToOne(() => DeviceEntity, (d) => d.enrollments, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'device_id', foreignKeyConstraintName: 'fk_enrollments_device' })
  device?: Relation<DeviceEntity>;

  @Index('idx_enrollments_parent_id')
  @Column({ name: 'parent_id', type: 'varchar', length: 512, nullable: true })
  parentId: string | null;

  @Column({ type: 'varchar', length: 32 })
  type: EnrollmentType;

  @Column({ type: 'varchar', length: 255 })
  topic: string;

  @Column({ name: 'push_magic', type: 'varchar', length: 255 })
  pushMagic: string;

  /** The APNs device token; its size may change between TokenUpdates. */
  @Column({ type: 'blob' })
  token: Buffer;

  @Column({ type: 'boolean' })
  enabled: boolean;

  /** TokenUpdates since the last (re-)enrollment; 1 means the first one. */
  @Column({ name: 'token_update_count', type: 'int' })
  tokenUpdateCount: number;

  @Column({ name: 'awaiting_configuration', type: 'boolean' })
  awaitingConfiguration: boolean;

  @Column({ name: 'last_seen_at', type: 'datetime', precision: 3 })
  lastSeenAt: Date;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt: Date;
}
