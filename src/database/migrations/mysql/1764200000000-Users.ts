import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The people on a device: macOS users, Shared iPad users, User Enrollment users. */
export class Users1764200000000 implements MigrationInterface {
  name = 'Users1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE `users` (' +
        '`id` varchar(512) NOT NULL, `device_id` varchar(255) NOT NULL, `type` varchar(32) NOT NULL, ' +
        '`user_id` varchar(255) NULL, `short_name` varchar(255) NULL, `long_name` varchar(255) NULL, ' +
        '`not_on_console` tinyint NULL, `last_token_update_at` datetime(3) NULL, ' +
        '`last_user_authenticate_at` datetime(3) NULL, `user_authenticate_state` varchar(16) NULL, ' +
        '`digest_challenge` varchar(255) NULL, `created_at` datetime(3) NOT NULL, `updated_at` datetime(3) NOT NULL, ' +
        'INDEX `idx_users_device_id` (`device_id`), PRIMARY KEY (`id`), ' +
        'CONSTRAINT `fk_users_device` FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ON DELETE CASCADE ON UPDATE NO ACTION' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE `users`');
  }
}
