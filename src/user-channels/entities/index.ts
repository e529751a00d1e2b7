import { UserEntity } from './user.entity.js';

/** The tables this module owns, registered with `TypeOrmModule.forFeature` (and listed by the CLI data source). */
export const USER_CHANNELS_ENTITIES = [UserEntity];
