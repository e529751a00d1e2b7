import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

/** The environment variables src/config/config.ts reads, found in its source. */
function variablesRead(): string[] {
  const src = read('src/config/config.ts');
  const names = [...src.matchAll(/\(\s*env,\s*'([A-Z_]+)'/g)].map((m) => m[1] ?? '');
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

/** The few fields of a Kubernetes object these checks read. */
interface K8sObject {
  kind?: string;
  metadata?: { name?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    template?: {
      spec?: {
        containers?: {
          image?: string;
          envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
        }[];
      };
    };
  };
}

describe('Kubernetes manifests', () => {
  const dir = 'deploy/kubernetes';
  const objects = readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(read(`${dir}/${f}`)).map((d) => ({ file: f, obj: d.toJS() as K8sObject })));

  it('every ConfigMap and Secret key is a variable the configuration reads', () => {
    const vars = new Set([...variablesRead(), 'NODE_ENV']);
    const settings = objects.filter(
      ({ obj }) => (obj.kind === 'ConfigMap' || obj.kind === 'Secret') && obj.metadata?.name === 'mdm-checkin',
    );
    assert.equal(settings.length, 2, 'the mdm-checkin ConfigMap and Secret');
    for (const { file, obj } of settings) {
      for (const key of Object.keys({ ...obj.data, ...obj.stringData })) assert.ok(vars.has(key), `${file}: ${key}`);
    }
  });

  it('every command a manifest or the Dockerfile runs from dist/ is built from a source file', () => {
    const texts = [...objects.map(({ obj }) => JSON.stringify(obj)), read('Dockerfile')];
    const paths = new Set(texts.flatMap((t) => [...t.matchAll(/dist\/([\w/.-]+)\.js/g)].map((m) => m[1] ?? '')));
    assert.ok(paths.has('main') && paths.has('database/migrate'), [...paths].join(', '));
    for (const p of paths) assert.ok(existsSync(join(ROOT, 'src', `${p}.ts`)), `src/${p}.ts`);
  });

  it('the workloads use the same image and the ConfigMaps and Secret the manifests define', () => {
    const defined = new Set(objects.map(({ obj }) => `${String(obj.kind)}/${String(obj.metadata?.name)}`));
    const pods = objects.filter(({ obj }) => obj.kind === 'Deployment' || obj.kind === 'Job');
    assert.ok(pods.length >= 2);
    const images = new Set<string>();
    for (const { file, obj } of pods) {
      for (const c of obj.spec?.template?.spec?.containers ?? []) {
        images.add(String(c.image));
        for (const from of c.envFrom ?? []) {
          if (from.configMapRef)
            assert.ok(defined.has(`ConfigMap/${from.configMapRef.name}`), `${file}: ${from.configMapRef.name}`);
          // The Secret is made from secret.example.yaml.
          if (from.secretRef)
            assert.ok(defined.has(`Secret/${from.secretRef.name}`), `${file}: ${from.secretRef.name}`);
        }
      }
    }
    assert.equal(images.size, 1, [...images].join(', '));
    // The device CA's ConfigMap is made from the CA's own file (README step 3), never from a placeholder.
    assert.ok(!defined.has('ConfigMap/mdm-checkin-device-ca'));
    assert.match(read(`${dir}/README.md`), /create configmap mdm-checkin-device-ca --from-file=ca\.pem=/);
  });
});
