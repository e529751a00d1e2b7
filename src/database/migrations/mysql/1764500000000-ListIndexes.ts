import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The admin API's lists: sort=updatedAt reads (updated_at, id) in order from where the last
 * page ended, and devices are found by serial number. Sort=id needs nothing: it walks the key.
 */
export class ListIndexes1764500000000 implements MigrationInterface {
  name = 'ListIndexes1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE `devices` ADD INDEX `idx_devices_updated_at` (`updated_at`, `id`), ' +
        'ADD INDEX `idx_devices_serial_number` (`serial_number`)',
    );
    await q.query('ALTER TABLE `enrollments` ADD INDEX `idx_enrollments_updated_at` (`updated_at`, `id`)');
    await q.query('ALTER TABLE `users` ADD INDEX `idx_users_updated_at` (`updated_at`, `id`)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE `users` DROP INDEX `idx_users_updated_at`');
    await q.query('ALTER TABLE `enrollments` DROP INDEX `idx_enrollments_updated_at`');
    await q.query('ALTER TABLE `devices` DROP INDEX `idx_devices_serial_number`, DROP INDEX `idx_devices_updated_at`');
  }
}
