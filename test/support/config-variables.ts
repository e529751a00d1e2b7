import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (compiled tests run from .build/test/support). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const readRepoFile = (p: string): string => readFileSync(join(REPO_ROOT, p), 'utf8');

/** The environment variables src/config/config.ts reads, found in its source (NODE_ENV included). */
export function variablesRead(): string[] {
  const src = readRepoFile('src/config/config.ts');
  const names = [...src.matchAll(/\(\s*env,\s*'([A-Z_]+)'/g)].map((m) => m[1] ?? '');
  return [...new Set(names)].sort();
}
