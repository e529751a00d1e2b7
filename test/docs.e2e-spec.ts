import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readRepoFile as read, variablesRead } from './support/config-variables.js';

// The Kubernetes manifests are checked by deploy.e2e-spec.ts.

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
