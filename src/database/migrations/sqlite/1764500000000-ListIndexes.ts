import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The admin API's lists: sort=updatedAt reads (updated_at, id) in order from where the last
 * page ended, and devices are found by serial number. Sort=id needs nothing: it walks the key.
 */
export class ListIndexes1764500000000 implements MigrationInterface {
  name = 'ListIndexes1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX "idx_devices_updated_at" ON "devices" ("updated_at", "id")');
    await q.query('CREATE INDEX "idx_devices_serial_number" ON "devices" ("serial_number")');
    await q.query('CREATE INDEX "idx_enrollments_updated_at" ON "enrollments" ("updated_at", "id")');
    await q.query('CREATE INDEX "idx_users_updated_at" ON "users" ("updated_at", "id")');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX "idx_users_updated_at"');
    await q.query('DROP INDEX "idx_enrollments_updated_at"');
    await q.query('DROP INDEX "idx_devices_serial_number"');
    await q.query('DROP INDEX "idx_devices_updated_at"');
  }
}
