import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

/** The environment variables src/config/config.ts reads, found in its source. */
function variablesRead(): string[] {
  const src = read('src/config/config.ts');
  const names = [...src.matchAll(/\(env, '([A-Z_]+)'/g)].map((m) => m[1] ?? '');
  return [...new Set(names)].sort();
}

describe('configuration documentation', () => {
  it('finds the variables the configuration reads', () => {
    const vars = variablesRead();
    assert.ok(vars.includes('DATABASE_URL') && vars.includes('SECRETS_KEY') && vars.length >= 10, vars.join(', '));
  });

  it('README.md documents every variable in its configuration table', () => {
    const readme = read('README.md');
    for (const v of variablesRead()) assert.match(readme, new RegExp(`^\\|\\s*\`${v}\`\\s*\\|`, 'm'), v);
  });

  it('.env.example lists every variable', () => {
    const example = read('.env.example');
    for (const v of variablesRead()) assert.match(example, new RegExp(`^${v}=`, 'm'), v);
  });
});
