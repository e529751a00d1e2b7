import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Certificate bindings become a history: one row per certificate (a device may hold several,
 * renewal adds one), revoked rows kept. Existing bindings carry over as active, bound when
 * they were last bound. Altered in place: InnoDB constraint names are unique per schema, so a
 * second table could not carry the foreign key's name while the first exists.
 */
export class CertificateBindingHistory1764300000000 implements MigrationInterface {
  name = 'CertificateBindingHistory1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE `certificate_bindings` DROP FOREIGN KEY `fk_certificate_bindings_device`');
    await q.query(
      'ALTER TABLE `certificate_bindings` ' +
        'DROP PRIMARY KEY, DROP INDEX `uq_certificate_bindings_fingerprint`, DROP COLUMN `created_at`, ' +
        'CHANGE `updated_at` `bound_at` datetime(3) NOT NULL, ' +
        'ADD `revoked_at` datetime(3) NULL, ADD `revoked_reason` varchar(32) NULL, ' +
        'ADD PRIMARY KEY (`fingerprint`), ADD INDEX `idx_certificate_bindings_device_id` (`device_id`)',
    );
    await q.query(
      'ALTER TABLE `certificate_bindings` ADD CONSTRAINT `fk_certificate_bindings_device` ' +
        'FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  /** Back to one certificate per device: the newest active one is kept, the history is lost. */
  async down(q: QueryRunner): Promise<void> {
    await q.query('DELETE FROM `certificate_bindings` WHERE `revoked_at` IS NOT NULL');
    await q.query(
      'DELETE b FROM `certificate_bindings` b JOIN `certificate_bindings` n ON n.`device_id` = b.`device_id` ' +
        'AND (n.`bound_at` > b.`bound_at` OR (n.`bound_at` = b.`bound_at` AND n.`fingerprint` > b.`fingerprint`))',
    );
    await q.query('ALTER TABLE `certificate_bindings` DROP FOREIGN KEY `fk_certificate_bindings_device`');
    await q.query(
      'ALTER TABLE `certificate_bindings` ' +
        'DROP PRIMARY KEY, DROP INDEX `idx_certificate_bindings_device_id`, DROP COLUMN `revoked_at`, ' +
        'DROP COLUMN `revoked_reason`, CHANGE `bound_at` `updated_at` datetime(3) NOT NULL, ' +
        'ADD `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), ' +
        'ADD PRIMARY KEY (`device_id`), ADD UNIQUE INDEX `uq_certificate_bindings_fingerprint` (`fingerprint`)',
    );
    await q.query('UPDATE `certificate_bindings` SET `created_at` = `updated_at`');
    await q.query('ALTER TABLE `certificate_bindings` ALTER `created_at` DROP DEFAULT');
    await q.query(
      'ALTER TABLE `certificate_bindings` ADD CONSTRAINT `fk_certificate_bindings_device` ' +
        'FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }
}
