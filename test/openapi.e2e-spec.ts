import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { API_VERSION, buildOpenApiDocument, openApiYaml } from '../src/admin/openapi.js';
import { newUdid, send, xmlMessage } from './support/device.js';
import { ADMIN_KEY, startTestApp } from './support/test-app.js';
import type { TestApp } from './support/test-app.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOC = join(ROOT, 'docs', 'openapi.yaml');
const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  $ref?: string;
}
interface Operation {
  responses?: Record<string, unknown>;
}
interface Document {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

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

function documentedRoutes(doc: Document): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter((k) => METHODS.has(k))
        .map((m) => `${m.toUpperCase()} ${path}`),
    )
    .sort();
}

const admin = { authorization: `Bearer ${ADMIN_KEY}` };

describe('OpenAPI document', () => {
  let t: TestApp;
  let generated: string;
  let doc: Document;
  before(async () => {
    t = await startTestApp();
    generated = openApiYaml(buildOpenApiDocument(t.app));
    doc = parse(generated) as Document;
  });
  after(async () => {
    await t.close();
  });

  it('docs/openapi.yaml is exactly what the code describes', () => {
    const committed = readFileSync(DOC, 'utf8');
    if (committed !== generated) {
      const a = committed.split('\n');
      const b = generated.split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      assert.fail(
        `docs/openapi.yaml differs from what the code produces (first at line ${line + 1}: ` +
          `committed ${JSON.stringify(a[line])}, code ${JSON.stringify(b[line])}): run \`npm run openapi\` and commit the result`,
      );
    }
  });

  it('is OpenAPI 3.1 and carries the package version', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.version, pkg.version);
    assert.equal(API_VERSION, pkg.version);
  });

  it('documents exactly the routes the application serves', () => {
    // Swagger UI's own files (scripts, the init script, index.html) live under /api/docs/.
    const served = appRoutes(t).filter((r) => !r.startsWith('GET /api/docs/'));
    assert.ok(served.length >= 10, served.join(', '));
    assert.ok(served.includes('GET /api/openapi.json') && served.includes('GET /api/docs'), served.join(', '));
    assert.deepEqual(documentedRoutes(doc), served);
  });

  it('never documents a 401 on a device-facing path, and documents a 401 on every admin one', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item).filter(([k]) => METHODS.has(k))) {
        const has401 = Object.keys(op.responses ?? {}).includes('401');
        assert.equal(has401, path.startsWith('/api/'), `${method} ${path}`);
      }
    }
  });

  it('documents every status the application answers, for the operation that answered it', async () => {
    const observed: [string, string, number][] = [];
    const seen = async (method: string, path: string, status: number | Promise<number>): Promise<number> => {
      const s = await status;
      observed.push([method, path, s]);
      return s;
    };
    const req = async (method: string, path: string, headers: Record<string, string> = {}): Promise<number> =>
      (await fetch(`${t.url}${path}`, { method, headers })).status;

    const a = newUdid();
    const b = newUdid();
    for (const udid of [a, b]) {
      await seen(
        'put',
        '/checkin',
        send(t.url, xmlMessage('mac-authenticate.plist', { UDID: udid })).then((r) => r.status),
      );
      await seen(
        'post',
        '/checkin',
        send(t.url, xmlMessage('mac-token-update.plist', { UDID: udid }), { method: 'POST' }).then((r) => r.status),
      );
    }
    await seen(
      'put',
      '/checkin',
      send(t.url, '', { sign: false }).then((r) => r.status),
    );
    const foreign = await t.signer?.identityFor(b);
    await seen(
      'put',
      '/checkin',
      send(t.url, xmlMessage('mac-token-update.plist', { UDID: a }), { identity: foreign }).then((r) => r.status),
    );
    await seen(
      'put',
      '/checkin',
      send(t.url, xmlMessage('mac-user-authenticate.plist', { UDID: a })).then((r) => r.status),
    );
    await seen(
      'put',
      '/checkin',
      send(t.url, Buffer.alloc(t.config.checkinMaxBodyBytes + 1, 0x20), { sign: false }).then((r) => r.status),
    );
    await seen(
      'put',
      '/mdm',
      send(t.url, xmlMessage('mac-token-update.plist', { UDID: a }), { path: '/mdm' }).then((r) => r.status),
    );
    await seen('post', '/mdm', req('POST', '/mdm', { 'content-type': 'application/json' }));
    await seen('get', '/healthz', req('GET', '/healthz'));
    await seen('get', '/readyz', req('GET', '/readyz'));
    await seen('get', '/api/v1/devices/{udid}', req('GET', `/api/v1/devices/${a}`, admin));
    await seen('get', '/api/v1/devices/{udid}', req('GET', `/api/v1/devices/${newUdid()}`, admin));
    await seen('get', '/api/v1/devices/{udid}', req('GET', `/api/v1/devices/${a}`));
    await seen('get', '/api/v1/devices/{udid}/users', req('GET', `/api/v1/devices/${a}/users`, admin));
    await seen('get', '/api/v1/devices/{udid}/users', req('GET', `/api/v1/devices/${newUdid()}/users`, admin));
    await seen('get', '/api/v1/enrollments/{id}', req('GET', `/api/v1/enrollments/${a}`, admin));
    await seen('get', '/api/v1/enrollments/{id}', req('GET', `/api/v1/enrollments/${newUdid()}`, admin));
    const cert = '/api/v1/devices/{udid}/certificates/{sha256}';
    await seen('delete', cert, req('DELETE', `/api/v1/devices/${a}/certificates/not-hex`, admin));
    await seen('delete', cert, req('DELETE', `/api/v1/devices/${a}/certificates/${'0'.repeat(64)}`, admin));
    const viewOfA = (await (await fetch(`${t.url}/api/v1/devices/${a}`, { headers: admin })).json()) as {
      certificates: { fingerprint: string }[];
    };
    const fingerprint = viewOfA.certificates[0]?.fingerprint ?? '';
    await seen('delete', cert, req('DELETE', `/api/v1/devices/${a}/certificates/${fingerprint}`, admin));
    await seen(
      'post',
      '/api/v1/tokens/watch-pairing/verify',
      req('POST', '/api/v1/tokens/watch-pairing/verify', admin),
    );
    await seen('get', '/api/openapi.json', req('GET', '/api/openapi.json', admin));
    await seen('get', '/api/openapi.json', req('GET', '/api/openapi.json'));
    await seen('get', '/api/docs', req('GET', '/api/docs', admin));

    const statuses = new Set(observed.map(([, , s]) => s));
    for (const s of [200, 204, 400, 401, 403, 404, 410, 413, 501])
      assert.ok(statuses.has(s), `no request answered ${s}`);
    for (const [method, path, status] of observed) {
      const documented = Object.keys(doc.paths[path]?.[method]?.responses ?? {});
      assert.ok(
        documented.includes(String(status)),
        `${method.toUpperCase()} ${path} answered ${status}, documented: ${documented.join(', ')}`,
      );
    }
  });

  it('the admin views carry exactly the documented properties', async () => {
    const udid = newUdid();
    await send(t.url, xmlMessage('mac-authenticate.plist', { UDID: udid }));
    await send(t.url, xmlMessage('mac-token-update.plist', { UDID: udid }));
    const device = (await (await fetch(`${t.url}/api/v1/devices/${udid}`, { headers: admin })).json()) as Record<
      string,
      unknown
    > & { enrollments: Record<string, unknown>[]; certificates: Record<string, unknown>[] };
    const props = (name: string): string[] => Object.keys(doc.components.schemas[name]?.properties ?? {}).sort();
    const required = (name: string): string[] => [...(doc.components.schemas[name]?.required ?? [])].sort();
    for (const [name, value] of [
      ['DeviceView', device],
      ['EnrollmentView', device.enrollments[0]],
      ['CertificateBinding', device.certificates[0]],
    ] as const) {
      assert.ok(value !== undefined, name);
      assert.deepEqual(Object.keys(value).sort(), props(name), name);
      assert.deepEqual(required(name), props(name), `${name}: every property is always present`);
    }
  });

  it('serves the generated document and Swagger UI behind the admin key', async () => {
    const json = await fetch(`${t.url}/api/openapi.json`, { headers: admin });
    assert.equal(json.status, 200);
    assert.match(json.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await json.json(), parse(generated));
    const ui = await fetch(`${t.url}/api/docs`, { headers: admin });
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /swagger-ui/);
    for (const asset of ['swagger-ui-init.js', 'swagger-ui-bundle.js', 'swagger-ui.css']) {
      const res = await fetch(`${t.url}/api/docs/${asset}`, { headers: admin });
      assert.equal(res.status, 200, asset);
      assert.ok((await res.arrayBuffer()).byteLength > 100, asset);
      assert.equal((await fetch(`${t.url}/api/docs/${asset}`)).status, 401, asset);
    }
    for (const path of ['/api/openapi.json', '/api/docs', '/api/docs/']) {
      const res = await fetch(`${t.url}${path}`, { headers: { authorization: 'Bearer wrong-key-0123456789' } });
      assert.equal(res.status, 401, path);
      assert.deepEqual(await res.json(), {
        statusCode: 401,
        error: 'Unauthorized',
        message: 'a valid "Authorization: Bearer <ADMIN_API_KEY>" header is required',
      });
    }
  });
});

describe('OpenAPI routes switched off', () => {
  it('API_DOCS=off: neither the document nor the UI is served, the admin API still is', async () => {
    const t = await startTestApp({ API_DOCS: 'off' });
    try {
      for (const path of ['/api/openapi.json', '/api/docs', '/api/docs/swagger-ui-init.js']) {
        assert.equal((await fetch(`${t.url}${path}`, { headers: admin })).status, 404, path);
      }
      assert.equal((await fetch(`${t.url}/api/v1/devices/${newUdid()}`, { headers: admin })).status, 404);
      assert.equal((await fetch(`${t.url}/api/v1/devices/${newUdid()}`)).status, 401);
    } finally {
      await t.close();
    }
  });

  it('without ADMIN_API_KEY: 404 saying the admin API is disabled, like every /api route', async () => {
    const t = await startTestApp({ ADMIN_API_KEY: '' });
    try {
      for (const path of ['/api/openapi.json', '/api/docs']) {
        const res = await fetch(`${t.url}${path}`, { headers: admin });
        assert.equal(res.status, 404, path);
        assert.match(JSON.stringify(await res.json()), /the admin API is disabled/);
      }
    } finally {
      await t.close();
    }
  });
});
