import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A token id already accepted (watch pairing); kept until the token would expire anyway. */
@Entity({ name: 'token_replays' })
export class TokenReplayEntity {
  @PrimaryColumn({ name: 'token_id', type: 'varchar', length: 64 })
  tokenId: string;

  @Index('idx_token_replays_expires_at')
  @Column({ name: 'expires_at', type: 'datetime', precision: 3 })
  expiresAt: Date;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;
}
