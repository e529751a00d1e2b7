import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The people on a device: macOS users, Shared iPad users, User Enrollment users. */
export class Users1764200000000 implements MigrationInterface {
  name = 'Users1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE "users" (' +
        '"id" varchar(512) PRIMARY KEY NOT NULL, "device_id" varchar(255) NOT NULL, "type" varchar(32) NOT NULL, ' +
        '"user_id" varchar(255), "short_name" varchar(255), "long_name" varchar(255), "not_on_console" boolean, ' +
        '"last_token_update_at" datetime(3), "last_user_authenticate_at" datetime(3), ' +
        '"user_authenticate_state" varchar(16), "digest_challenge" varchar(255), ' +
        '"created_at" datetime(3) NOT NULL, "updated_at" datetime(3) NOT NULL, ' +
        'CONSTRAINT "fk_users_device" FOREIGN KEY ("device_id") REFERENCES "devices" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)',
    );
    await q.query('CREATE INDEX "idx_users_device_id" ON "users" ("device_id")');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE "users"');
  }
}
