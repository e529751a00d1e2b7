import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Accepted token ids (watch pairing replay protection). */
export class TokenReplays1764100000000 implements MigrationInterface {
  name = 'TokenReplays1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE "token_replays" ("token_id" varchar(64) PRIMARY KEY NOT NULL, "expires_at" datetime(3) NOT NULL, "created_at" datetime(3) NOT NULL)',
    );
    await q.query('CREATE INDEX "idx_token_replays_expires_at" ON "token_replays" ("expires_at")');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE "token_replays"');
  }
}
