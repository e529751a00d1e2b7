// The Kubernetes manifests of deploy/kubernetes, as kustomize renders them: every object
// validated offline against the Kubernetes schemas (kubernetes-models), the wiring checked
// against the code (variables, files, ports, probes, the image's user), and the rendered
// settings used to start the real server.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../src/config/config.js';
import { createCa, issueIdentity } from '../src/device-identity/dev-ca.js';
import type { CertificateAuthority } from '../src/device-identity/dev-ca.js';
import { REPO_ROOT, readRepoFile, variablesRead } from './support/config-variables.js';
import { newUdid, send, xmlMessage } from './support/device.js';
import { startTestApp } from './support/test-app.js';

const K8S = join(REPO_ROOT, 'deploy', 'kubernetes');

// ---- the few fields of Kubernetes objects these checks read ---------------------------------

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
}
interface PodSpec {
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  topologySpreadConstraints?: { topologyKey: string; labelSelector?: { matchLabels?: Record<string, string> } }[];
  containers: Container[];
  volumes?: { name: string; emptyDir?: object; secret?: { secretName: string }; configMap?: { name: string } }[];
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  data?: Record<string, string>;
  // Deployment, Job, Service, HPA, PDB, NetworkPolicy, Ingress, ServiceMonitor: read loosely below.
  spec?: Record<string, unknown> & {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    template?: { metadata?: Meta; spec: PodSpec };
    activeDeadlineSeconds?: number;
  };
}

// ---- rendering -------------------------------------------------------------------------------

/** Runs `kubectl kustomize dir`; fails (never skips) when kubectl is missing, saying how to get it. */
function kustomize(dir: string): K8sObject[] {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.error !== undefined) {
    throw new Error(
      `cannot run kubectl (${r.error.message}): it renders the kustomize manifests offline. Install it ` +
        '(Debian/Ubuntu: apt-get install -y kubernetes-client; elsewhere see ' +
        'https://kubernetes.io/docs/tasks/tools/), or run bash .ci/run, which installs it.',
    );
  }
  assert.equal(r.status, 0, `kubectl kustomize ${relative(REPO_ROOT, dir)}: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** Every folder of deploy/kubernetes with a kustomization.yaml of kind Kustomization. */
function kustomizations(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (
        e.name === 'kustomization.yaml' &&
        !/^kind: Component$/m.test(readRepoFile(relative(REPO_ROOT, join(dir, e.name))))
      )
        found.push(dir);
    }
  };
  walk(K8S);
  return found.sort();
}

/** An overlay with both optional components, written to a temporary folder and rendered. */
function renderWithComponents(overlay: string, scratch: string): K8sObject[] {
  const dir = mkdtempSync(join(scratch, 'with-components-'));
  // kustomize accepts only relative paths to other kustomizations.
  const rel = (p: string): string => relative(dir, p).split('\\').join('/');
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      `resources: [${rel(join(K8S, overlay))}]`,
      `components: [${rel(join(K8S, 'components/maid'))}, ${rel(join(K8S, 'components/watch-pairing'))}]`,
      '',
    ].join('\n'),
  );
  return kustomize(dir);
}

// ---- offline schema validation ----------------------------------------------------------------

type ModelClass = new (data: unknown) => { validate(): void };

/** The kubernetes-models class of an object's apiVersion/kind (core `v1` included). */
async function modelFor(o: K8sObject): Promise<ModelClass> {
  // The Prometheus Operator's CRDs (ServiceMonitor) have their models in a package of their own.
  const spec = o.apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${o.apiVersion}/${o.kind}`
    : `kubernetes-models/${o.apiVersion}/${o.kind}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(spec)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`no kubernetes-models class for ${o.apiVersion} ${o.kind}`, { cause: err });
  }
  const model = mod[o.kind];
  assert.equal(typeof model, 'function', spec);
  return model as ModelClass;
}

/**
 * Beyond its schema (validated like every object, with @kubernetes-models/prometheus-operator):
 * the ServiceMonitor must select our Service and scrape a port it has, at /metrics.
 */
function validateServiceMonitor(o: K8sObject, objects: K8sObject[]): void {
  assert.equal(o.apiVersion, 'monitoring.coreos.com/v1');
  const spec = o.spec as { selector?: { matchLabels?: Record<string, string> }; endpoints?: unknown[] };
  const labels = spec.selector?.matchLabels ?? {};
  assert.ok(Object.keys(labels).length > 0, 'ServiceMonitor selector');
  const services = objects.filter((s) => s.kind === 'Service' && matches(labels, s.metadata.labels));
  assert.equal(services.length, 1, 'the ServiceMonitor selects exactly one Service');
  const ports = (services[0]?.spec?.ports as { name?: string }[] | undefined) ?? [];
  assert.ok(Array.isArray(spec.endpoints) && spec.endpoints.length > 0, 'ServiceMonitor endpoints');
  for (const ep of spec.endpoints as { port?: unknown; path?: unknown; interval?: unknown }[]) {
    assert.equal(typeof ep.port, 'string', 'an endpoint names its Service port');
    assert.ok(
      ports.some((p) => p.name === ep.port),
      `ServiceMonitor port ${String(ep.port)} is a port of the Service`,
    );
    assert.equal(ep.path, '/metrics');
    assert.match(String(ep.interval), /^\d+[smh]$/);
  }
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

async function validateAll(objects: K8sObject[]): Promise<void> {
  assert.ok(objects.length > 0);
  for (const o of objects) {
    if (o.kind === 'ServiceMonitor') validateServiceMonitor(o, objects);
    const Model = await modelFor(o);
    try {
      new Model(o).validate();
    } catch (err) {
      const details = (err as { errors?: unknown }).errors;
      assert.fail(`${o.kind}/${o.metadata.name}: ${String(err)} ${JSON.stringify(details ?? '')}`);
    }
  }
}

// ---- helpers on the rendered objects -----------------------------------------------------------

function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name === undefined ? '' : `/${name}`}`);
  return found[0] as K8sObject;
}

function podSpec(o: K8sObject): PodSpec {
  const spec = o.spec?.template?.spec;
  assert.ok(spec, `${o.kind}/${o.metadata.name} has a pod template`);
  return spec;
}

function container(o: K8sObject): Container {
  const c = podSpec(o).containers;
  assert.equal(c.length, 1, `${o.kind}/${o.metadata.name}: one container`);
  return c[0] as Container;
}

/** The Secret keys `kubectl create secret` commands in deploy/kubernetes/README.md create, by Secret. */
function documentedSecrets(): Map<string, Set<string>> {
  const readme = readRepoFile('deploy/kubernetes/README.md');
  const secrets = new Map<string, Set<string>>();
  // A command spans lines joined by a trailing backslash.
  const commands = readme.replace(/\\\n\s*/g, ' ').split('\n');
  for (const line of commands) {
    const m = /create secret generic ([a-z0-9-]+)(.*)$/.exec(line);
    if (m?.[1] === undefined) continue;
    const keys = secrets.get(m[1]) ?? new Set<string>();
    for (const k of (m[2] ?? '').matchAll(/--from-(?:literal|file)=([A-Za-z0-9_.-]+)=/g)) keys.add(k[1] ?? '');
    secrets.set(m[1], keys);
  }
  // Keys that are optional are documented in the Secrets table instead of the commands.
  for (const row of readme.matchAll(/^\s*\| `([a-z0-9-]+)`\s*\| `([A-Za-z0-9_.-]+)`\s*\|/gm)) {
    const keys = secrets.get(row[1] ?? '') ?? new Set<string>();
    keys.add(row[2] ?? '');
    secrets.set(row[1] ?? '', keys);
  }
  return secrets;
}

/**
 * The server container's environment as the kubelet would build it: the ConfigMap of its
 * envFrom, then its `env` (later wins), with Secret references resolved by `secretValue`.
 */
function containerEnv(
  objects: K8sObject[],
  c: Container,
  secretValue: (secret: string, key: string) => string | undefined,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    assert.equal(from.secretRef, undefined, 'Secrets are read key by key (env), never whole');
    const name = from.configMapRef?.name;
    assert.ok(name !== undefined);
    Object.assign(env, one(objects, 'ConfigMap', name).data ?? {});
  }
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref === undefined) {
      env[e.name] = e.value ?? '';
      continue;
    }
    const v = secretValue(ref.name, ref.key);
    if (v !== undefined) env[e.name] = v;
    else assert.ok(ref.optional === true, `${e.name}: ${ref.name}/${ref.key} is required but has no value`);
  }
  return env;
}

/** Variables that the manifests leave unset on purpose; deploy/kubernetes/README.md says why. */
const LEFT_OUT = ['HOST', 'DEVICE_INTERMEDIATES_FILE', 'WATCH_PAIRING_VERIFY_KEYS_FILE', 'USER_AUTHENTICATOR_MODULE'];
/** Set by components/maid and components/watch-pairing. */
const BY_COMPONENTS = ['MAID_SERVER_UUID', 'MAID_SIGNING_KEY_FILE', 'MAID_SIGNING_CERT_FILE', 'WATCH_PAIRING_KEY_FILE'];

/** The image's runtime user, from the Dockerfile's last stage; `node` is uid 1000 in the official Node images. */
function imageUid(): number {
  const dockerfile = readRepoFile('Dockerfile');
  const stages = dockerfile.split(/^FROM /m);
  const user = /^USER\s+(\S+)/m.exec(stages[stages.length - 1] ?? '')?.[1];
  assert.ok(user !== undefined, 'the Dockerfile sets USER in its last stage');
  const uid = user === 'node' ? 1000 : Number(user.split(':')[0]);
  assert.ok(Number.isInteger(uid), `USER ${user}: a name this test knows or a numeric uid`);
  return uid;
}

/** How long the server waits for another process's migrations (src/database). */
function migrationLockSeconds(): number {
  const dir = join(REPO_ROOT, 'src', 'database');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const m = /MIGRATION_LOCK_SECONDS\s*=\s*([\d_]+)/.exec(readRepoFile(`src/database/${f}`));
    if (m?.[1] !== undefined) return Number(m[1].replace(/_/g, ''));
  }
  return assert.fail('MIGRATION_LOCK_SECONDS not found in src/database');
}

function bytes(size: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(size);
  assert.ok(m?.[1] !== undefined, `a size: ${size}`);
  return Number(m[1]) * 1024 ** ['', 'k', 'm', 'g'].indexOf((m[2] ?? '').toLowerCase());
}

// ---- the checks ----------------------------------------------------------------------------------

describe('Kubernetes manifests (kustomize)', () => {
  let scratch: string;
  let ca: CertificateAuthority;
  const rendered = new Map<string, K8sObject[]>();

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'mdm-deploy-'));
    ca = await createCa('Deploy test device CA');
    for (const dir of kustomizations()) rendered.set(relative(K8S, dir), kustomize(dir));
    rendered.set('overlays/signature + components', renderWithComponents('overlays/signature', scratch));
    rendered.set('overlays/header-mode + components', renderWithComponents('overlays/header-mode', scratch));
  });
  after(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  const overlays = (): [string, K8sObject[]][] => [...rendered].filter(([name]) => name.startsWith('overlays/'));

  it('renders the base, both overlays and the components', () => {
    assert.deepEqual([...rendered.keys()].sort(), [
      'base',
      'overlays/header-mode',
      'overlays/header-mode + components',
      'overlays/signature',
      'overlays/signature + components',
    ]);
  });

  it('every object is valid against the Kubernetes schemas (offline, kubernetes-models)', async () => {
    for (const objects of rendered.values()) await validateAll(objects);
    // What the models check: a wrong type anywhere fails.
    const deployment = one(rendered.get('base') ?? [], 'Deployment');
    const broken = structuredClone(deployment);
    (broken.spec?.template?.spec.containers[0]?.ports ?? [])[0] = { containerPort: 'http' as unknown as number };
    await assert.rejects(validateAll([broken]), /containerPort must be integer/);
  });

  it('has what the issue asks for, in every overlay', () => {
    for (const [name, objects] of overlays()) {
      const kinds = new Set(objects.map((o) => o.kind));
      for (const kind of [
        'Namespace',
        'ConfigMap',
        'Deployment',
        'Service',
        'Job',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
        'NetworkPolicy',
        'ServiceMonitor',
        'Ingress',
      ])
        assert.ok(kinds.has(kind), `${name}: ${kind}`);
      for (const o of objects.filter((x) => x.kind !== 'Namespace'))
        assert.equal(o.metadata.namespace, 'mdm-checkin', `${name}: ${o.kind}/${o.metadata.name}`);
      assert.ok(!kinds.has('Secret'), `${name}: Secrets are created outside the manifests (README)`);
    }
  });

  it('every variable the configuration reads is set, or left out on purpose and documented', () => {
    const read = variablesRead();
    assert.ok(read.includes('NODE_ENV') && read.includes('DATABASE_URL'), read.join(', '));
    const readme = readRepoFile('deploy/kubernetes/README.md');
    for (const v of LEFT_OUT) {
      assert.ok(read.includes(v), `${v} is still a setting`);
      assert.match(readme, new RegExp(`\`${v}\``), `deploy/kubernetes/README.md explains why ${v} is not set`);
    }
    for (const [name, objects] of overlays()) {
      const server = one(objects, 'Deployment', 'mdm-checkin');
      const env = containerEnv(objects, container(server), () => 'x');
      const set = new Set(Object.keys(env));
      const withComponents = name.endsWith('+ components');
      for (const v of read) {
        const expectedUnset = LEFT_OUT.includes(v) || (!withComponents && BY_COMPONENTS.includes(v));
        assert.equal(set.has(v), !expectedUnset, `${name}: ${v} ${expectedUnset ? 'is left out' : 'is set'}`);
      }
      for (const v of set) assert.ok(read.includes(v), `${name}: ${v} is not a setting`);
    }
  });

  it('every *_FILE is a key of a mounted Secret that the README tells how to create', () => {
    const documented = documentedSecrets();
    for (const [name, objects] of overlays()) {
      const server = one(objects, 'Deployment', 'mdm-checkin');
      const c = container(server);
      const volumes = podSpec(server).volumes ?? [];
      const env = containerEnv(objects, c, () => 'x');
      const files = Object.entries(env).filter(([k]) => k.endsWith('_FILE'));
      assert.ok(files.length >= (name.endsWith('+ components') ? 4 : 1), name);
      for (const [variable, path] of files) {
        const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === posix.dirname(path));
        assert.ok(mount, `${name}: ${variable}=${path} lies in a mounted volume`);
        assert.equal(mount.readOnly, true, `${name}: ${mount.mountPath} is mounted read-only`);
        const secret = volumes.find((v) => v.name === mount.name)?.secret?.secretName;
        assert.ok(secret !== undefined, `${name}: ${variable} comes from a Secret`);
        assert.ok(
          documented.get(secret)?.has(posix.basename(path)),
          `${name}: README creates Secret ${secret} with key ${posix.basename(path)} (${variable})`,
        );
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref !== undefined)
          assert.ok(documented.get(ref.name)?.has(ref.key), `${name}: README documents ${ref.name}/${ref.key}`);
      }
    }
  });

  it('pods run as the image’s non-root user, read-only, without a token or capabilities', () => {
    const uid = imageUid();
    assert.notEqual(uid, 0);
    for (const [name, objects] of overlays()) {
      for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
        const pod = podSpec(o);
        const c = container(o);
        const what = `${name}: ${o.kind}/${o.metadata.name}`;
        assert.equal(pod.automountServiceAccountToken, false, what);
        assert.equal(pod.securityContext?.runAsNonRoot, true, what);
        assert.equal(pod.securityContext?.runAsUser, uid, what);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', what);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, what);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, what);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], what);
        assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, what);
        // Where the server may write (DATA_DIR, /tmp) is an emptyDir.
        const env = containerEnv(objects, c, () => 'x');
        for (const path of ['/tmp', env.DATA_DIR ?? '/tmp']) {
          const mount = (c.volumeMounts ?? [])
            .filter((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`))
            .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
          assert.ok(mount, `${what}: ${path} is mounted`);
          assert.ok(pod.volumes?.find((v) => v.name === mount.name)?.emptyDir, `${what}: ${path} is an emptyDir`);
        }
      }
    }
  });

  it('ports, probes, Service, Ingress, ServiceMonitor, HPA, PDB and NetworkPolicies agree', () => {
    const lockSeconds = migrationLockSeconds();
    for (const [name, objects] of overlays()) {
      const server = one(objects, 'Deployment', 'mdm-checkin');
      const c = container(server);
      const env = containerEnv(objects, c, () => 'x');
      const podLabels = server.spec?.template?.metadata?.labels ?? {};
      const portOf = (p: string | number): number =>
        typeof p === 'number' ? p : (c.ports?.find((x) => x.name === p)?.containerPort ?? NaN);
      // The devices' port is PORT; the metrics port is METRICS_PORT.
      assert.equal(portOf('http'), Number(env.PORT), `${name}: container port http = PORT`);
      assert.equal(portOf('metrics'), Number(env.METRICS_PORT), `${name}: container port metrics = METRICS_PORT`);
      assert.notEqual(env.METRICS_PORT, env.PORT);

      // Probes: the liveness route for start-up and liveness, readiness on /readyz, all on PORT.
      assert.equal(c.startupProbe?.httpGet?.path, '/healthz', name);
      assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', name);
      assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', name);
      for (const p of [c.startupProbe, c.livenessProbe, c.readinessProbe])
        assert.equal(portOf(p?.httpGet?.port ?? ''), Number(env.PORT), `${name}: probe port`);
      // A pod may wait for another one's migrations for the lock's whole bound before it listens.
      const startup = (c.startupProbe?.periodSeconds ?? 10) * (c.startupProbe?.failureThreshold ?? 3);
      assert.ok(startup >= lockSeconds, `${name}: startup probe window ${startup} s ≥ migration lock ${lockSeconds} s`);
      const job = one(objects, 'Job', 'mdm-checkin-migrate');
      assert.ok((job.spec?.activeDeadlineSeconds ?? 0) > lockSeconds, `${name}: the Job outlives the lock's wait`);

      // The Service selects the server pods (not the Job's) and targets existing container ports.
      const service = one(objects, 'Service', 'mdm-checkin');
      const selector = (service.spec?.selector as Record<string, string> | undefined) ?? {};
      assert.ok(matches(selector, podLabels), `${name}: Service selects the server pods`);
      assert.ok(!matches(selector, job.spec?.template?.metadata?.labels), `${name}: …and not the Job's`);
      const servicePorts = (service.spec?.ports as { name: string; targetPort: string | number }[] | undefined) ?? [];
      for (const p of servicePorts) assert.ok(!Number.isNaN(portOf(p.targetPort)), `${name}: Service ${p.name}`);

      // The Ingress routes only the devices' paths, to a port of the Service, with room for a body.
      const ingress = one(objects, 'Ingress');
      const rules =
        (ingress.spec?.rules as { http: { paths: { path: string; backend: unknown }[] } }[] | undefined) ?? [];
      const paths = rules.flatMap((r) => r.http.paths);
      assert.deepEqual(paths.map((p) => p.path).sort(), ['/checkin', '/mdm'], name);
      for (const p of paths) {
        const backend = p.backend as { service: { name: string; port: { name?: string } } };
        assert.equal(backend.service.name, service.metadata.name);
        assert.ok(
          servicePorts.some((sp) => sp.name === backend.service.port.name && sp.targetPort === 'http'),
          name,
        );
      }
      const bodySize = ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size'];
      assert.ok(bodySize !== undefined && bytes(bodySize) >= Number(env.CHECKIN_MAX_BODY_BYTES), `${name}: body size`);

      // Autoscaling and disruptions.
      assert.equal(server.spec?.replicas, undefined, `${name}: the HPA owns the replica count`);
      const hpa = one(objects, 'HorizontalPodAutoscaler');
      const target = hpa.spec?.scaleTargetRef as { kind: string; name: string };
      assert.deepEqual([target.kind, target.name], ['Deployment', server.metadata.name]);
      const minReplicas = Number(hpa.spec?.minReplicas);
      assert.ok(minReplicas >= 2, `${name}: at least two pods`);
      const pdb = one(objects, 'PodDisruptionBudget');
      assert.ok(matches(pdb.spec?.selector?.matchLabels ?? {}, podLabels), `${name}: PDB selects the server pods`);
      assert.ok(Number(pdb.spec?.minAvailable) < minReplicas, `${name}: a drain can still move a pod`);
      const spread = podSpec(server).topologySpreadConstraints ?? [];
      assert.ok(
        spread.some((t) => t.topologyKey === 'kubernetes.io/hostname'),
        `${name}: spread over nodes`,
      );
      for (const t of spread) assert.ok(matches(t.labelSelector?.matchLabels ?? {}, podLabels), name);

      // NetworkPolicy of the server pods: in on http and metrics, out to DNS and the database only.
      const policy = one(objects, 'NetworkPolicy', 'mdm-checkin');
      const pspec = policy.spec as {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: { from?: unknown[]; ports: { port: string | number }[] }[];
        egress: { ports: { port: number; protocol: string }[] }[];
      };
      assert.ok(matches(pspec.podSelector.matchLabels, podLabels), `${name}: NetworkPolicy selects the server pods`);
      assert.deepEqual([...pspec.policyTypes].sort(), ['Egress', 'Ingress']);
      const inPorts = pspec.ingress.flatMap((r) => r.ports.map((p) => p.port));
      assert.deepEqual([...inPorts].sort(), ['http', 'metrics'], name);
      for (const p of inPorts) assert.ok(!Number.isNaN(portOf(p)), `${name}: policy port ${String(p)}`);
      const outPorts = pspec.egress.flatMap((r) => r.ports.map((p) => `${p.port}/${p.protocol}`));
      assert.deepEqual([...new Set(outPorts)].sort(), ['3306/TCP', '53/TCP', '53/UDP'], name);
      const migratePolicy = one(objects, 'NetworkPolicy', 'mdm-checkin-migrate');
      const mspec = migratePolicy.spec as { podSelector: { matchLabels: Record<string, string> }; ingress?: unknown[] };
      assert.ok(matches(mspec.podSelector.matchLabels, job.spec?.template?.metadata?.labels), name);
      assert.equal(mspec.ingress, undefined, `${name}: nothing may connect to the Job's pod`);

      // In header mode whoever reaches the port could forge the certificate header: only the
      // ingress controller may.
      const devicesRule = pspec.ingress.find((r) => r.ports.some((p) => p.port === 'http'));
      if (env.DEVICE_AUTH === 'header')
        assert.ok((devicesRule?.from ?? []).length > 0, `${name}: header mode admits only the ingress controller`);
    }
  });

  it('the migration Job is applied first with the settings it needs, and runs a built command', () => {
    for (const [name, objects] of overlays()) {
      const phase = objects.filter((o) => o.metadata.labels?.['mdm-checkin/rollout-phase'] === 'migrate');
      assert.deepEqual(phase.map((o) => o.kind).sort(), ['ConfigMap', 'Job', 'Namespace'], name);
      const job = one(objects, 'Job', 'mdm-checkin-migrate');
      const server = one(objects, 'Deployment', 'mdm-checkin');
      const jc = container(job);
      assert.equal(jc.image, container(server).image, `${name}: same image`);
      // Every ConfigMap the Job reads is applied in its phase; Secrets exist before (README).
      for (const from of jc.envFrom ?? [])
        assert.ok(
          phase.some((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef?.name),
          name,
        );
      // Its environment passes the production configuration check.
      const env = containerEnv(objects, jc, (secret, key) =>
        secret === 'mdm-checkin' && key === 'SECRETS_KEY'
          ? randomBytes(32).toString('base64')
          : secret === 'mdm-checkin' && key === 'DATABASE_URL'
            ? 'mysql://mdm:secret@db.example.internal:3306/mdm'
            : undefined,
      );
      assert.equal(env.NODE_ENV, 'production');
      assert.doesNotThrow(() => loadConfig(env, '/app'), name);
    }
    // Every command a manifest or the Dockerfile runs from dist/ is built from a source file.
    const texts = [...[...rendered.values()].flat().map((o) => JSON.stringify(o)), readRepoFile('Dockerfile')];
    const paths = new Set(texts.flatMap((t) => [...t.matchAll(/dist\/([\w/.-]+)\.js/g)].map((m) => m[1] ?? '')));
    assert.ok(paths.has('main') && paths.has('database/migrate'), [...paths].join(', '));
    for (const p of paths) assert.ok(existsSync(join(REPO_ROOT, 'src', `${p}.ts`)), `src/${p}.ts`);
  });

  it('header mode: ingress-nginx verifies against the device CA the server mounts and forwards it in DEVICE_CERT_HEADER', () => {
    for (const [name, objects] of overlays().filter(([n]) => n.startsWith('overlays/header-mode'))) {
      const server = one(objects, 'Deployment', 'mdm-checkin');
      const c = container(server);
      const env = containerEnv(objects, c, () => 'x');
      assert.equal(env.DEVICE_AUTH, 'header');
      // ingress-nginx sets `ssl-client-cert: $ssl_client_escaped_cert` (URL-escaped PEM).
      assert.equal(env.DEVICE_CERT_HEADER, 'ssl-client-cert', name);
      const a = one(objects, 'Ingress').metadata.annotations ?? {};
      assert.equal(a['nginx.ingress.kubernetes.io/auth-tls-verify-client'], 'on', name);
      assert.equal(a['nginx.ingress.kubernetes.io/auth-tls-pass-certificate-to-upstream'], 'true', name);
      // ingress-nginx reads ca.crt from the Secret it names: the one mounted at DEVICE_CA_FILE.
      const caPath = env.DEVICE_CA_FILE ?? '';
      assert.equal(posix.basename(caPath), 'ca.crt');
      const mount = c.volumeMounts?.find((m) => m.mountPath === posix.dirname(caPath));
      const secret = podSpec(server).volumes?.find((v) => v.name === mount?.name)?.secret?.secretName;
      assert.equal(a['nginx.ingress.kubernetes.io/auth-tls-secret'], `mdm-checkin/${String(secret)}`, name);
    }
    for (const [name, objects] of overlays().filter(([n]) => n.startsWith('overlays/signature'))) {
      const env = containerEnv(objects, container(one(objects, 'Deployment', 'mdm-checkin')), () => 'x');
      assert.equal(env.DEVICE_AUTH, 'signature', name);
    }
  });

  /**
   * Starts the real server with the environment a pod of `overlay` gets: the Secrets' values
   * made here, each mounted file written under a scratch root at its mount path.
   */
  async function startAsPod(overlay: string): Promise<{ url: string; close: () => Promise<void> }> {
    const objects = rendered.get(overlay) ?? [];
    const server = one(objects, 'Deployment', 'mdm-checkin');
    const root = mkdtempSync(join(scratch, 'pod-'));
    const maidCert = await issueIdentity(ca, { commonName: 'maid', keyType: 'rsa' });
    const watchKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const secrets: Record<string, Record<string, string>> = {
      'mdm-checkin': {
        SECRETS_KEY: randomBytes(32).toString('base64'),
        ADMIN_API_KEY: randomBytes(24).toString('base64'),
        DATABASE_URL: 'set by startTestApp',
      },
      'mdm-checkin-device-ca': { 'ca.crt': ca.certPem },
      'mdm-checkin-maid': {
        'server-uuid': randomUUID().toUpperCase(),
        'key.pem': maidCert.keyPem,
        'cert.pem': maidCert.certPem,
      },
      'mdm-checkin-watch-pairing': { 'key.pem': watchKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
    };
    const c = container(server);
    for (const m of c.volumeMounts ?? []) {
      const secret = podSpec(server).volumes?.find((v) => v.name === m.name)?.secret?.secretName;
      if (secret === undefined) continue;
      mkdirSync(join(root, m.mountPath), { recursive: true });
      for (const [key, content] of Object.entries(secrets[secret] ?? {}))
        writeFileSync(join(root, m.mountPath, key), content);
    }
    const env = containerEnv(objects, c, (secret, key) => secrets[secret]?.[key]);
    for (const k of Object.keys(env)) if (k.endsWith('_FILE') || k === 'DATA_DIR') env[k] = join(root, env[k] ?? '');
    assert.ok(env.DEVICE_CA_FILE !== undefined && existsSync(env.DEVICE_CA_FILE), env.DEVICE_CA_FILE);
    // The test database instead of the Secret's; the port is the test's own.
    delete env.DATABASE_URL;
    delete env.PORT;
    // The metrics server has its own tests; here it would claim a fixed port.
    delete env.METRICS_PORT;
    const t = await startTestApp(env, undefined, { ca });
    assert.equal(t.config.production, true);
    assert.equal(t.config.maid !== undefined, overlay.endsWith('+ components'));
    return { url: t.url, close: () => t.close() };
  }

  for (const overlay of ['overlays/signature + components', 'overlays/header-mode + components']) {
    it(`the server starts with the settings of ${overlay}, and its probes answer 200`, async () => {
      const pod = await startAsPod(overlay);
      try {
        const objects = rendered.get(overlay) ?? [];
        const c = container(one(objects, 'Deployment', 'mdm-checkin'));
        for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
          const res = await fetch(`${pod.url}${probe?.httpGet?.path ?? '/nowhere'}`);
          assert.equal(res.status, 200, probe?.httpGet?.path);
        }
        if (overlay.startsWith('overlays/header-mode')) {
          // What ingress-nginx sends: the verified certificate as URL-escaped PEM in ssl-client-cert.
          const udid = newUdid();
          const identity = await issueIdentity(ca, { commonName: udid });
          const reply = await send(pod.url, xmlMessage('ipad-authenticate.plist', { UDID: udid }), {
            sign: false,
            headers: { 'ssl-client-cert': encodeURIComponent(identity.certPem) },
          });
          assert.equal(reply.status, 200, reply.text);
          const forged = await send(pod.url, xmlMessage('ipad-authenticate.plist', { UDID: newUdid() }), {
            sign: false,
            headers: { 'client-cert': `:${identity.certDer.toString('base64')}:` },
          });
          assert.equal(forged.status, 400, 'another header is not read');
        }
      } finally {
        await pod.close();
      }
    });
  }

  it('fails, saying how to install it, when kubectl is missing', () => {
    const path = process.env.PATH;
    process.env.PATH = mkdtempSync(join(scratch, 'empty-path-'));
    try {
      assert.throws(() => kustomize(join(K8S, 'base')), /apt-get install -y kubernetes-client/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('the ServiceMonitor check can fail', () => {
    const objects = rendered.get('base') ?? [];
    const monitor = structuredClone(one(objects, 'ServiceMonitor'));
    (monitor.spec as { endpoints: { port: string }[] }).endpoints[0] = { port: 'web' };
    assert.throws(() => validateServiceMonitor(monitor, objects), /port web is a port of the Service/);
  });
});
