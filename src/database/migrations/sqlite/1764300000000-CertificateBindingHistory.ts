import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Certificate bindings become a history: one row per certificate (a device may hold several,
 * renewal adds one), revoked rows kept. Existing bindings carry over as active, bound when
 * they were last bound. SQLite cannot change a primary key in place, so the table is rebuilt.
 */
export class CertificateBindingHistory1764300000000 implements MigrationInterface {
  name = 'CertificateBindingHistory1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE "certificate_bindings_next" (' +
        '"fingerprint" varchar(64) PRIMARY KEY NOT NULL, "device_id" varchar(255) NOT NULL, ' +
        '"subject" varchar(1024) NOT NULL, "not_after" datetime(3) NOT NULL, "bound_at" datetime(3) NOT NULL, ' +
        '"revoked_at" datetime(3), "revoked_reason" varchar(32), ' +
        'CONSTRAINT "fk_certificate_bindings_device" FOREIGN KEY ("device_id") REFERENCES "devices" ("id") ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION)',
    );
    await q.query(
      'INSERT INTO "certificate_bindings_next" ("fingerprint", "device_id", "subject", "not_after", "bound_at") ' +
        'SELECT "fingerprint", "device_id", "subject", "not_after", "updated_at" FROM "certificate_bindings"',
    );
    await q.query('DROP TABLE "certificate_bindings"');
    await q.query('ALTER TABLE "certificate_bindings_next" RENAME TO "certificate_bindings"');
    await q.query('CREATE INDEX "idx_certificate_bindings_device_id" ON "certificate_bindings" ("device_id")');
  }

  /** Back to one certificate per device: the newest active one is kept, the history is lost. */
  async down(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE "certificate_bindings_prev" (' +
        '"device_id" varchar(255) PRIMARY KEY NOT NULL, "fingerprint" varchar(64) NOT NULL, "subject" varchar(1024) NOT NULL, ' +
        '"not_after" datetime(3) NOT NULL, "created_at" datetime(3) NOT NULL, "updated_at" datetime(3) NOT NULL, ' +
        'CONSTRAINT "fk_certificate_bindings_device" FOREIGN KEY ("device_id") REFERENCES "devices" ("id") ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION)',
    );
    await q.query(
      'INSERT INTO "certificate_bindings_prev" ("device_id", "fingerprint", "subject", "not_after", "created_at", "updated_at") ' +
        'SELECT b."device_id", b."fingerprint", b."subject", b."not_after", b."bound_at", b."bound_at" ' +
        'FROM "certificate_bindings" b WHERE b."revoked_at" IS NULL AND NOT EXISTS (' +
        'SELECT 1 FROM "certificate_bindings" n WHERE n."device_id" = b."device_id" AND n."revoked_at" IS NULL ' +
        'AND (n."bound_at" > b."bound_at" OR (n."bound_at" = b."bound_at" AND n."fingerprint" > b."fingerprint")))',
    );
    await q.query('DROP TABLE "certificate_bindings"');
    await q.query('ALTER TABLE "certificate_bindings_prev" RENAME TO "certificate_bindings"');
    await q.query(
      'CREATE UNIQUE INDEX "uq_certificate_bindings_fingerprint" ON "certificate_bindings" ("fingerprint")',
    );
  }
}
