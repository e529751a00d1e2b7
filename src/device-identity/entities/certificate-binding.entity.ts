import { Column, Entity, Index, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { DeviceEntity } from '../../enrollments/entities/device.entity.js';

/**
 * Which identity certificate speaks for a device (and its user channels). Set on
 * Authenticate; a certificate is bound to at most one device (no reuse).
 */
@Entity({ name: 'certificate_bindings' })
export class CertificateBindingEntity {
  /** The device-channel id (UDID or EnrollmentID). */
  @PrimaryColumn({ name: 'device_id', type: 'varchar', length: 255 })
  deviceId: string;

  @OneToOne(() => DeviceEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'device_id', foreignKeyConstraintName: 'fk_certificate_bindings_device' })
  device?: Relation<DeviceEntity>;

  /** SHA-256 of the certificate's DER, lower-case hex. */
  @Index('uq_certificate_bindings_fingerprint', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  fingerprint: string;

  @Column({ type: 'varchar', length: 1024 })
  subject: string;

  @Column({ name: 'not_after', type: 'datetime', precision: 3 })
  notAfter: Date;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt: Date;
}
