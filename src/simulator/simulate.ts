// Device simulator: simulated iPhones, iPads and Macs, each with its own identity certificate,
// go through a realistic enrollment life cycle against a running check-in server.
//
//   npm run simulate -- --url http://127.0.0.1:8080 --devices 200 [--concurrency 16]
//       [--shared-ipad-users K] [--allow-unsupported] [--get-token]
//       [--ca-dir ./data] [--cert-header client-cert | --no-sign] [--topic com.apple.mgmt.…]
//
// Per device: Authenticate; TokenUpdate (AwaitingConfiguration, UnlockToken on iOS/iPadOS);
// on Macs SetBootstrapToken then GetBootstrapToken (the token must come back unchanged); a
// later TokenUpdate with a new token and PushMagic and no UnlockToken; GetToken
// com.apple.maid with --get-token; K Shared iPad users signing in on each iPad; CheckOut.
// Exits 1 when any answer was not the expected one, 2 on bad arguments.
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { parse } from 'plist';
import { DEV_CA_CERT_FILE, DEV_CA_KEY_FILE, issueIdentity, loadOrCreateDevCa } from '../device-identity/dev-ca.js';
import type { CertificateAuthority, DeviceIdentity } from '../device-identity/dev-ca.js';
import {
  authenticate,
  checkOut,
  DEFAULT_TOPIC,
  encode,
  getBootstrapToken,
  getToken,
  makeDevice,
  rotatePushCredentials,
  setBootstrapToken,
  sharedIpadUserTokenUpdate,
  tokenUpdate,
} from './devices.js';
import type { Message, SimDevice } from './devices.js';
import { Progress, Stats } from './report.js';
import { CheckinClient, checkinUrl, identityHeaders } from './transport.js';
import type { CheckinReply, IdentityMode } from './transport.js';

const USAGE = `usage: npm run simulate -- --url <server> [options]

  --url URL                 the server (http://host:port, or the full check-in URL)
  --devices N               simulated devices (default 10)
  --concurrency C           devices in flight at once (default 8)
  --shared-ipad-users K     Shared iPad users signing in on each iPad (default 0)
  --allow-unsupported       accept 400 "... not supported" for Shared iPad users
  --get-token               also send GetToken com.apple.maid (the server needs MAID_* set)
  --ca-dir DIR              where dev-ca.pem and dev-ca.key.pem are (default ./data)
  --cert-header NAME        send the certificate in this header (RFC 9440) instead of Mdm-Signature
  --no-sign                 send no identity at all (a server with DEVICE_AUTH=none)
  --topic TOPIC             push topic (default ${DEFAULT_TOPIC})
  --timeout SECONDS         per request (default 30)
`;

interface Options {
  url: URL;
  devices: number;
  concurrency: number;
  sharedIpadUsers: number;
  allowUnsupported: boolean;
  getToken: boolean;
  caDir: string;
  identity: IdentityMode;
  topic: string;
  timeoutMs: number;
}

function usageError(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function whole(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) usageError(`--${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) usageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function options(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        url: { type: 'string' },
        devices: { type: 'string' },
        concurrency: { type: 'string' },
        'shared-ipad-users': { type: 'string' },
        'allow-unsupported': { type: 'boolean', default: false },
        'get-token': { type: 'boolean', default: false },
        'ca-dir': { type: 'string', default: './data' },
        'cert-header': { type: 'string' },
        'no-sign': { type: 'boolean', default: false },
        topic: { type: 'string', default: DEFAULT_TOPIC },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    usageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (values.url === undefined) usageError('--url is required');
  let url: URL;
  try {
    url = checkinUrl(values.url);
  } catch (err) {
    usageError(err instanceof Error ? err.message : String(err));
  }
  const header = values['cert-header']?.toLowerCase();
  if (header !== undefined && !/^[a-z0-9-]+$/.test(header)) usageError(`--cert-header: not a header name: ${header}`);
  if (header !== undefined && values['no-sign']) usageError('--cert-header and --no-sign exclude each other');
  const identity: IdentityMode = values['no-sign']
    ? { kind: 'none' }
    : header !== undefined
      ? { kind: 'header', header }
      : { kind: 'signature' };
  if (!values.topic.startsWith('com.apple.mgmt.')) usageError('--topic must start with com.apple.mgmt.');
  return {
    url,
    devices: whole(values.devices, 'devices', 10, 1, 1_000_000),
    concurrency: whole(values.concurrency, 'concurrency', 8, 1, 1024),
    sharedIpadUsers: whole(values['shared-ipad-users'], 'shared-ipad-users', 0, 0, 1000),
    allowUnsupported: values['allow-unsupported'],
    getToken: values['get-token'],
    caDir: resolve(values['ca-dir']),
    identity,
    topic: values.topic,
    timeoutMs: whole(values.timeout, 'timeout', 30, 1, 600) * 1000,
  };
}

/** What an answer must look like: `null` when it is right, else why not. */
type Check = (reply: CheckinReply) => string | null;

const status200: Check = (r) => (r.status === 200 ? null : `expected 200, got ${r.status}: ${r.body.toString('utf8')}`);

function plistReply(r: CheckinReply): Record<string, unknown> | string {
  try {
    const v = parse(r.body.toString('utf8'));
    const isDict =
      typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
    return isDict ? v : 'the answer is not a plist dictionary';
  } catch {
    return 'the answer is not a plist';
  }
}

const LABELS = [
  'Authenticate',
  'TokenUpdate (first)',
  'SetBootstrapToken',
  'GetBootstrapToken',
  'TokenUpdate (rotated)',
  'GetToken com.apple.maid',
  'TokenUpdate (Shared iPad user)',
  'CheckOut',
] as const;
type Label = (typeof LABELS)[number];

class Simulation {
  readonly stats = new Stats(LABELS);
  completed = 0;
  abandoned = 0;
  stopping = false;

  constructor(
    private readonly opts: Options,
    private readonly client: CheckinClient,
    private readonly ca: CertificateAuthority | undefined,
    private readonly runTag: string,
  ) {}

  /** Sends one message; records it; false when the answer was not the expected one. */
  private async step(
    device: SimDevice,
    identity: DeviceIdentity | undefined,
    label: Label,
    message: Message,
    check: Check,
  ): Promise<boolean> {
    const body = encode(device, message);
    const started = performance.now();
    let reply: CheckinReply;
    try {
      reply = await this.client.send(body, await identityHeaders(this.opts.identity, body, identity));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const name = typeof code === 'string' ? code : 'error';
      this.stats.record(label, name, performance.now() - started, false, device.udid, String(err));
      return false;
    }
    const problem = check(reply);
    this.stats.record(label, reply.status, reply.ms, problem === null, device.udid, problem ?? '');
    return problem === null;
  }

  /** One device's life, from enrollment to removal; stops at the first unexpected answer. */
  async lifeCycle(index: number): Promise<void> {
    const d = makeDevice(index, this.runTag, this.opts.topic);
    const id = this.ca === undefined ? undefined : await issueIdentity(this.ca, { commonName: d.udid, keyType: 'ec' });
    const ok = await this.steps(d, id);
    if (ok) this.completed += 1;
    else this.abandoned += 1;
  }

  private async steps(d: SimDevice, id: DeviceIdentity | undefined): Promise<boolean> {
    if (!(await this.step(d, id, 'Authenticate', authenticate(d), status200))) return false;
    const first = tokenUpdate(d, { awaitingConfiguration: true, withUnlockToken: true });
    if (!(await this.step(d, id, 'TokenUpdate (first)', first, status200))) return false;

    if (d.bootstrapToken !== undefined) {
      const escrowed = d.bootstrapToken;
      if (!(await this.step(d, id, 'SetBootstrapToken', setBootstrapToken(d), status200))) return false;
      const sameToken: Check = (r) => {
        if (r.status !== 200) return status200(r);
        const dict = plistReply(r);
        if (typeof dict === 'string') return dict;
        const got = dict.BootstrapToken;
        if (!(got instanceof Uint8Array)) return 'GetBootstrapToken returned no BootstrapToken';
        return Buffer.from(got).equals(escrowed) ? null : 'GetBootstrapToken returned another token than was set';
      };
      if (!(await this.step(d, id, 'GetBootstrapToken', getBootstrapToken(d), sameToken))) return false;
    }

    rotatePushCredentials(d);
    const later = tokenUpdate(d, { awaitingConfiguration: false, withUnlockToken: false });
    if (!(await this.step(d, id, 'TokenUpdate (rotated)', later, status200))) return false;

    if (this.opts.getToken) {
      const hasToken: Check = (r) => {
        if (r.status !== 200) return status200(r);
        const dict = plistReply(r);
        if (typeof dict === 'string') return dict;
        const data = dict.TokenData;
        return data instanceof Uint8Array && data.length > 0 ? null : 'GetToken returned no TokenData';
      };
      if (!(await this.step(d, id, 'GetToken com.apple.maid', getToken(d, 'com.apple.maid'), hasToken))) return false;
    }

    if (d.kind === 'iPad') {
      const userCheck: Check = (r) => {
        if (r.status === 200) return null;
        if (this.opts.allowUnsupported && r.status === 400 && /not supported/i.test(r.body.toString('utf8')))
          return null;
        return `expected 200${this.opts.allowUnsupported ? ' (or 400 not supported)' : ''}, got ${r.status}: ${r.body.toString('utf8')}`;
      };
      for (let n = 1; n <= this.opts.sharedIpadUsers; n++) {
        const msg = sharedIpadUserTokenUpdate(d, n);
        if (!(await this.step(d, id, 'TokenUpdate (Shared iPad user)', msg, userCheck))) return false;
      }
    }

    return this.step(d, id, 'CheckOut', checkOut(d), status200);
  }
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  let ca: CertificateAuthority | undefined;
  if (opts.identity.kind !== 'none') {
    const certPath = join(opts.caDir, DEV_CA_CERT_FILE);
    const keyPath = join(opts.caDir, DEV_CA_KEY_FILE);
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      process.stderr.write(
        `no development CA in ${opts.caDir} (${DEV_CA_CERT_FILE} and ${DEV_CA_KEY_FILE}): point --ca-dir at the ` +
          `server's DATA_DIR (it creates them on first start without DEVICE_CA_FILE), or use --no-sign\n`,
      );
      process.exit(2);
    }
    ca = (await loadOrCreateDevCa(opts.caDir)).ca;
  }

  const client = new CheckinClient(opts.url, opts.concurrency, opts.timeoutMs);
  const sim = new Simulation(opts, client, ca, randomBytes(4).toString('hex'));
  const identityText =
    opts.identity.kind === 'signature'
      ? 'Mdm-Signature'
      : opts.identity.kind === 'header'
        ? `certificate in ${opts.identity.header}`
        : 'no identity';
  process.stderr.write(
    `simulating ${opts.devices} devices against ${opts.url.href}, ${opts.concurrency} at a time, ${identityText}` +
      `${opts.sharedIpadUsers > 0 ? `, ${opts.sharedIpadUsers} Shared iPad users per iPad` : ''}\n`,
  );
  const progress = new Progress(opts.devices, process.stderr);
  const onSignal = (): void => {
    if (sim.stopping) process.exit(130);
    sim.stopping = true;
    process.stderr.write('\nstopping: finishing the devices in flight (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', onSignal);

  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!sim.stopping && next < opts.devices) {
      const index = next++;
      await sim.lifeCycle(index);
      progress.update(sim.completed + sim.abandoned, sim.stats);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.devices) }, worker));
  progress.finish(sim.completed + sim.abandoned, sim.stats);
  client.close();

  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`\n${sim.stats.table()}\n\n`);
  for (const u of sim.stats.unexpected) {
    process.stdout.write(`unexpected: ${u.label} from ${u.device}: ${u.status} ${u.detail}\n`);
  }
  if (sim.stats.unexpectedTotal > sim.stats.unexpected.length) {
    process.stdout.write(`… and ${sim.stats.unexpectedTotal - sim.stats.unexpected.length} more unexpected answers\n`);
  }
  process.stdout.write(
    `${sim.completed} devices completed, ${sim.abandoned} stopped at an unexpected answer; ` +
      `${sim.stats.requests} requests in ${seconds.toFixed(1)} s (${(sim.stats.requests / seconds).toFixed(0)} req/s)\n`,
  );
  process.exitCode = sim.stats.unexpectedTotal > 0 || sim.stopping ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
