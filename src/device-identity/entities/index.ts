import { CertificateBindingEntity } from './certificate-binding.entity.js';

/** The tables this module owns, registered with `TypeOrmModule.forFeature` (and listed by the CLI data source). */
export const DEVICE_IDENTITY_ENTITIES = [CertificateBindingEntity];
