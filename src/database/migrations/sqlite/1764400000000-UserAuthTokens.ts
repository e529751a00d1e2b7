import type { MigrationInterface, QueryRunner } from 'typeorm';

/** UserAuthenticate that authenticates: challenges expire, the AuthToken handed out is kept as a hash. */
export class UserAuthTokens1764400000000 implements MigrationInterface {
  name = 'UserAuthTokens1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "users" ADD COLUMN "digest_challenge_expires_at" datetime(3)');
    await q.query('ALTER TABLE "users" ADD COLUMN "auth_token_hash" varchar(64)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "users" DROP COLUMN "auth_token_hash"');
    await q.query('ALTER TABLE "users" DROP COLUMN "digest_challenge_expires_at"');
  }
}
