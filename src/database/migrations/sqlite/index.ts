import type { MigrationInterface } from 'typeorm';
import { Initial1763900000000 } from './1763900000000-Initial.js';
import { CertificateBindings1764000000000 } from './1764000000000-CertificateBindings.js';
import { TokenReplays1764100000000 } from './1764100000000-TokenReplays.js';
import { Users1764200000000 } from './1764200000000-Users.js';
import { CertificateBindingHistory1764300000000 } from './1764300000000-CertificateBindingHistory.js';
import { UserAuthTokens1764400000000 } from './1764400000000-UserAuthTokens.js';
import { ListIndexes1764500000000 } from './1764500000000-ListIndexes.js';

/** In the order they run. A new migration is appended here and never edited after release. */
export const SQLITE_MIGRATIONS: (new () => MigrationInterface)[] = [
  Initial1763900000000,
  CertificateBindings1764000000000,
  TokenReplays1764100000000,
  Users1764200000000,
  CertificateBindingHistory1764300000000,
  UserAuthTokens1764400000000,
  ListIndexes1764500000000,
];
