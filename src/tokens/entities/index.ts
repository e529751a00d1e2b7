import { TokenReplayEntity } from './token-replay.entity.js';

/** The tables this module owns, registered with `TypeOrmModule.forFeature` (and listed by the CLI data source). */
export const TOKENS_ENTITIES = [TokenReplayEntity];
