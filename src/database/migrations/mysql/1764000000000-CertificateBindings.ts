import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Which identity certificate speaks for each device (device identity, "cert auth"). */
export class CertificateBindings1764000000000 implements MigrationInterface {
  name = 'CertificateBindings1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE `certificate_bindings` (' +
        '`device_id` varchar(255) NOT NULL, `fingerprint` varchar(64) NOT NULL, `subject` varchar(1024) NOT NULL, ' +
        '`not_after` datetime(3) NOT NULL, `created_at` datetime(3) NOT NULL, `updated_at` datetime(3) NOT NULL, ' +
        'UNIQUE INDEX `uq_certificate_bindings_fingerprint` (`fingerprint`), PRIMARY KEY (`device_id`), ' +
        'CONSTRAINT `fk_certificate_bindings_device` FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ' +
        'ON DELETE CASCADE ON UPDATE NO ACTION' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE `certificate_bindings`');
  }
}
