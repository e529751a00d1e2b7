import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Devices and their enrollments (device and user channels). MySQL 8 / MariaDB 10.11+. */
export class Initial1763900000000 implements MigrationInterface {
  name = 'Initial1763900000000';

  async up(q: QueryRunner): Promise<void> {
    // utf8mb4_bin: ids (UDIDs, EnrollmentIDs, Managed Apple Account names) compare exactly.
    await q.query(
      'CREATE TABLE `devices` (' +
        '`id` varchar(255) NOT NULL, ' +
        '`serial_number` varchar(64) NULL, `model` varchar(128) NULL, `model_name` varchar(128) NULL, ' +
        '`os_version` varchar(32) NULL, `build_version` varchar(32) NULL, `product_name` varchar(64) NULL, ' +
        '`device_name` varchar(255) NULL, `imei` varchar(32) NULL, `meid` varchar(32) NULL, ' +
        '`last_authenticate` blob NULL, `last_authenticate_at` datetime(3) NULL, ' +
        '`unlock_token` blob NULL, `unlock_token_at` datetime(3) NULL, ' +
        '`bootstrap_token` blob NULL, `bootstrap_token_at` datetime(3) NULL, ' +
        '`created_at` datetime(3) NOT NULL, `updated_at` datetime(3) NOT NULL, ' +
        'PRIMARY KEY (`id`)' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
    );
    await q.query(
      'CREATE TABLE `enrollments` (' +
        '`id` varchar(512) NOT NULL, `device_id` varchar(255) NOT NULL, `parent_id` varchar(512) NULL, ' +
        '`type` varchar(32) NOT NULL, `topic` varchar(255) NOT NULL, `push_magic` varchar(255) NOT NULL, ' +
        '`token` blob NOT NULL, `enabled` tinyint NOT NULL, `token_update_count` int NOT NULL, ' +
        '`awaiting_configuration` tinyint NOT NULL, `last_seen_at` datetime(3) NOT NULL, ' +
        '`created_at` datetime(3) NOT NULL, `updated_at` datetime(3) NOT NULL, ' +
        'INDEX `idx_enrollments_device_id` (`device_id`), INDEX `idx_enrollments_parent_id` (`parent_id`), ' +
        'PRIMARY KEY (`id`), ' +
        'CONSTRAINT `fk_enrollments_device` FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE `enrollments`');
    await q.query('DROP TABLE `devices`');
  }
}
