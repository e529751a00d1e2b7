import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';

const DOC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'openapi.yaml');

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** Every route the running Express app serves, as "METHOD /path/{param}". */
function appRoutes(t: TestApp): string[] {
  const instance = t.app.getHttpAdapter().getInstance() as {
    router?: { stack: Layer[] };
    _router?: { stack: Layer[] };
  };
  const stack = (instance.router ?? instance._router)?.stack ?? [];
  return stack
    .flatMap((layer) =>
      layer.route === undefined
        ? []
        : Object.keys(layer.route.methods).map(
            (m) => `${m.toUpperCase()} ${layer.route?.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`,
          ),
    )
    .sort();
}

describe('docs/openapi.yaml', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('documents exactly the routes the application serves', () => {
    const doc = parse(readFileSync(DOC, 'utf8')) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.match(doc.openapi, /^3\./);
    const methods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) =>
        Object.keys(item)
          .filter((k) => methods.has(k))
          .map((m) => `${m.toUpperCase()} ${path}`),
      )
      .sort();
    const served = appRoutes(t);
    assert.ok(served.length >= 8, served.join(', '));
    assert.deepEqual(documented, served);
  });

  it('never documents a 401 on a device-facing path', () => {
    const doc = parse(readFileSync(DOC, 'utf8')) as {
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
    };
    for (const path of ['/checkin', '/mdm']) {
      for (const op of Object.values(doc.paths[path] ?? {})) {
        assert.equal(Object.keys(op.responses ?? {}).includes('401'), false, path);
      }
    }
  });
});
