import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

/** Why a binding stopped: an administrator revoked it, a matching certificate replaced it, or the device checked out. */
export type BindingRevokedReason = 'administrator' | 'replaced' | 'checkout';

/**
 * One identity certificate that speaks (or spoke) for a device and its user channels. A
 * device may have several at once (identity renewal adds one); a certificate belongs to one
 * device for ever, so the fingerprint is the key: a revoked row stays, and keeps that
 * certificate out of this device and of every other.
 */
@Entity({ name: 'certificate_bindings' })
export class CertificateBindingEntity {
  /** SHA-256 of the certificate's DER, lower-case hex. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  fingerprint: string;

  /** The device-channel id (UDID or EnrollmentID). */
  @Index('idx_certificate_bindings_device_id')
  @Column({ name: 'device_id', type: 'varchar', length: 255 })
  deviceId: string;

  /** The enrollments module's device, named by entity name: this module imports none of its entities. */
  @ManyToOne('DeviceEntity', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'device_id', foreignKeyConstraintName: 'fk_certificate_bindings_device' })
  device?: { readonly id: string };

  @Column({ type: 'varchar', length: 1024 })
  subject: string;

  @Column({ name: 'not_after', type: 'datetime', precision: 3 })
  notAfter: Date;

  /** The message that first brought this certificate for this device. */
  @Column({ name: 'bound_at', type: 'datetime', precision: 3 })
  boundAt: Date;

  @Column({ name: 'revoked_at', type: 'datetime', precision: 3, nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 32, nullable: true })
  revokedReason: BindingRevokedReason | null;
}
