import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Devices and their enrollments (device and user channels). Embedded SQLite. */
export class Initial1763900000000 implements MigrationInterface {
  name = 'Initial1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE "devices" (' +
        '"id" varchar(255) PRIMARY KEY NOT NULL, ' +
        '"serial_number" varchar(64), "model" varchar(128), "model_name" varchar(128), ' +
        '"os_version" varchar(32), "build_version" varchar(32), "product_name" varchar(64), ' +
        '"device_name" varchar(255), "imei" varchar(32), "meid" varchar(32), ' +
        '"last_authenticate" blob, "last_authenticate_at" datetime(3), ' +
        '"unlock_token" blob, "unlock_token_at" datetime(3), ' +
        '"bootstrap_token" blob, "bootstrap_token_at" datetime(3), ' +
        '"created_at" datetime(3) NOT NULL, "updated_at" datetime(3) NOT NULL)',
    );
    await q.query(
      'CREATE TABLE "enrollments" (' +
        '"id" varchar(512) PRIMARY KEY NOT NULL, "device_id" varchar(255) NOT NULL, "parent_id" varchar(512), ' +
        '"type" varchar(32) NOT NULL, "topic" varchar(255) NOT NULL, "push_magic" varchar(255) NOT NULL, ' +
        '"token" blob NOT NULL, "enabled" boolean NOT NULL, "token_update_count" integer NOT NULL, ' +
        '"awaiting_configuration" boolean NOT NULL, "last_seen_at" datetime(3) NOT NULL, ' +
        '"created_at" datetime(3) NOT NULL, "updated_at" datetime(3) NOT NULL, ' +
        'CONSTRAINT "fk_enrollments_device" FOREIGN KEY ("device_id") REFERENCES "devices" ("id") ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION)',
    );
    await q.query('CREATE INDEX "idx_enrollments_device_id" ON "enrollments" ("device_id")');
    await q.query('CREATE INDEX "idx_enrollments_parent_id" ON "enrollments" ("parent_id")');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE "enrollments"');
    await q.query('DROP TABLE "devices"');
  }
}
