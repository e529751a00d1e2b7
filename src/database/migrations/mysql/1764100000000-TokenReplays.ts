import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Accepted token ids (watch pairing replay protection). */
export class TokenReplays1764100000000 implements MigrationInterface {
  name = 'TokenReplays1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE `token_replays` (`token_id` varchar(64) NOT NULL, `expires_at` datetime(3) NOT NULL, ' +
        '`created_at` datetime(3) NOT NULL, INDEX `idx_token_replays_expires_at` (`expires_at`), PRIMARY KEY (`token_id`)' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE `token_replays`');
  }
}
