import { DeviceEntity } from './device.entity.js';
import { EnrollmentEntity } from './enrollment.entity.js';

/** The tables this module owns, registered with `TypeOrmModule.forFeature` (and listed by the CLI data source). */
export const ENROLLMENTS_ENTITIES = [DeviceEntity, EnrollmentEntity];
