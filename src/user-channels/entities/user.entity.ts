import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { EnrollmentType } from '../../checkin/enrollment-id.js';

/**
 * A person on a device: a macOS user, a Shared iPad user (Managed Apple Account) or the
 * user side of a User Enrollment. Keyed by the user channel's enrollment id; many per device.
 * `device_id` references the enrollments module's devices table, named by entity name: this
 * module imports none of that module's entities.
 */
@Entity({ name: 'users' })
@Index('idx_users_updated_at', ['updatedAt', 'id'])
export class UserEntity {
  @PrimaryColumn({ type: 'varchar', length: 512 })
  id: string;

  @Index('idx_users_device_id')
  @Column({ name: 'device_id', type: 'varchar', length: 255 })
  deviceId: string;

  @ManyToOne('DeviceEntity', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'device_id', foreignKeyConstraintName: 'fk_users_device' })
  device?: { readonly id: string };

  @Column({ type: 'varchar', length: 32 })
  type: EnrollmentType;

  /** UserID (macOS GUID, the all-F id on Shared iPad) or EnrollmentUserID. */
  @Column({ name: 'user_id', type: 'varchar', length: 255, nullable: true })
  userId: string | null;

  @Column({ name: 'short_name', type: 'varchar', length: 255, nullable: true })
  shortName: string | null;

  @Column({ name: 'long_name', type: 'varchar', length: 255, nullable: true })
  longName: string | null;

  @Column({ name: 'not_on_console', type: 'boolean', nullable: true })
  notOnConsole: boolean | null;

  @Column({ name: 'last_token_update_at', type: 'datetime', precision: 3, nullable: true })
  lastTokenUpdateAt: Date | null;

  @Column({ name: 'last_user_authenticate_at', type: 'datetime', precision: 3, nullable: true })
  lastUserAuthenticateAt: Date | null;

  /** declined, challenged, allowed, accepted, rejected: the outcome of the last UserAuthenticate step. */
  @Column({ name: 'user_authenticate_state', type: 'varchar', length: 16, nullable: true })
  userAuthenticateState: string | null;

  /** The DigestChallenge sent in the first step, for the authenticator of the second; cleared when answered. */
  @Column({ name: 'digest_challenge', type: 'varchar', length: 255, nullable: true })
  digestChallenge: string | null;

  /** After this a DigestResponse to `digestChallenge` is too late. */
  @Column({ name: 'digest_challenge_expires_at', type: 'datetime', precision: 3, nullable: true })
  digestChallengeExpiresAt: Date | null;

  /**
   * Hex SHA-256 of the AuthToken last handed out; cleared by the next UserAuthenticate (Apple:
   * the token is valid until then). The token itself is never stored.
   */
  @Column({ name: 'auth_token_hash', type: 'varchar', length: 64, nullable: true })
  authTokenHash: string | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt: Date;
}
