#!/usr/bin/env node
// Benchmark of the check-in server, on this machine, against the compiled server in dist/.
//
//   npm run bench [-- --quick] [--devices N] [--duration S] [--warmup S] [--db auto|mysql|sqlite]
//                 [--auth both|header|signature] [--metrics] [--log-level L] [--log-format F]
//
// It starts `node dist/main.js` itself (DEVICE_AUTH=header, a device CA of its own, a random
// SECRETS_KEY, LOG_LEVEL=warn) on a fresh MariaDB/MySQL database `mdm_bench_<timestamp>` at
// root@127.0.0.1:3306 when that port answers (dropped afterwards), else on SQLite in a temporary
// folder; enrolls a population of devices, each with its own RSA-2048 certificate
// (certificates.mjs, issued by a CA of its own in the temporary folder); then drives fixed
// scenarios with autocannon over keep-alive connections, each request a real check-in of a
// distinct device with that device's certificate in the client-cert header:
//
//   tokenupdate-c{1,8,32,128}  TokenUpdate of enrolled devices, 1/8/32/128 connections
//   authenticate-new-c32       Authenticate of devices never seen before
//   mixed-c32                  a day in the life: 70% TokenUpdate, 10% Authenticate and 10%
//                              TokenUpdate of new devices, 5% GetBootstrapToken, 5% CheckOut
//
// Then it restarts the server on the same database with DEVICE_AUTH=signature (the default mode)
// and drives the same kind of messages signed as devices sign them (signatures.mjs: CMS, SHA-256
// with RSA, signed attributes, the certificate embedded, BER; all made before the timed part):
//
//   signed-tokenupdate-c32           TokenUpdate of the enrolled devices, after an untimed
//                                    pass over the population (the restarted server has seen
//                                    no certificate yet) of at least 10,000 requests
//   signed-authenticate-new-c32      Authenticate of devices never seen before
//
// For each: requests/s, p50/p95/p99 latency, errors (any non-2xx, socket error or wrong body
// makes the scenario FAILED), the server's CPU time per request (utime + stime of its process
// from /proc/<pid>/stat over the timed part, divided by the responses) and its peak RSS while it
// ran (/proc/<pid>/status). Prints a table and writes bench/results/<YYYY-MM-DD>-<db>[-quick].json.
// The server and the load generator share the machine's cores; compare figures from the same
// machine only. CPU per request is the figure that stays comparable on a busy machine.
//
// --metrics sets METRICS_PORT and scrapes /metrics once at the end of each server's scenarios
// (the check-ins it counted are in the report); --log-level info --log-format json makes the
// server write its one JSON line per check-in (to a file), as production does.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fastIssuer } from './certificates.mjs';
import { deviceSigner } from './signatures.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root' };
const CERT_HEADER = 'client-cert';
const CONTENT_TYPE = 'application/x-apple-aspen-mdm-checkin';

const USAGE = `usage: npm run bench [-- options]

  --quick             1,000 devices, 3 s per scenario (about a minute in all)
  --devices N         enrolled population (default 10000, --quick 1000)
  --duration S        seconds per scenario (default 10, --quick 3)
  --warmup S          seconds of warm-up before each scenario (default 2, --quick 1)
  --db KIND           auto (MariaDB/MySQL at 127.0.0.1:3306 when it answers, else SQLite), mysql or sqlite
  --auth WHICH        both (default), header or signature: which scenarios run (the population is
                      always enrolled in header mode)
  --rsa-keys N        distinct RSA-2048 key pairs behind the devices' certificates (default 16; each
                      device still has a certificate of its own)
  --cpu-prof DIR      run the server with node --cpu-prof and keep its CPU profile in DIR
                      (bench/profile-summary.mjs DIR/*.cpuprofile sums it up)
  --load TOOL         wrk (default when the wrk command is installed: apt-get install wrk) or autocannon:
                      what sends the round-robin TokenUpdate scenarios (the others always use autocannon)
  --only NAMES        run only these scenarios (comma-separated names, e.g. tokenupdate-c32,signed-tokenupdate-c32)
  --node-options STR  node options for the server process (default "--max-old-space-size=256", as npm start
                      and the Dockerfile run it; --node-options="" for none)
  --metrics           serve Prometheus metrics (METRICS_PORT) and scrape them once at the end
  --log-level L       the server's LOG_LEVEL (default warn; info writes a line per check-in)
  --log-format F      the server's LOG_FORMAT, text (default) or json
`;

// ---------------------------------------------------------------------------------------------
// Arguments and prerequisites

function usageError(message) {
  process.stderr.write(`${message}\n\n${USAGE}`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      'node-options': { type: 'string' },
      devices: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      db: { type: 'string', default: 'auto' },
      auth: { type: 'string', default: 'both' },
      'rsa-keys': { type: 'string' },
      'cpu-prof': { type: 'string' },
      only: { type: 'string' },
      load: { type: 'string' },
      metrics: { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'warn' },
      'log-format': { type: 'string', default: 'text' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (err) {
  usageError(err.message);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function whole(raw, name, fallback, min, max) {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) usageError(`--${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) usageError(`--${name} must be between ${min} and ${max}`);
  return n;
}

const QUICK = args.quick;
const DEVICES = whole(args.devices, 'devices', QUICK ? 1000 : 10_000, 100, 1_000_000);
const DURATION = whole(args.duration, 'duration', QUICK ? 3 : 10, 1, 600);
const WARMUP = whole(args.warmup, 'warmup', QUICK ? 1 : 2, 0, 60);
if (!['auto', 'mysql', 'sqlite'].includes(args.db)) usageError('--db must be auto, mysql or sqlite');
if (!['both', 'header', 'signature'].includes(args.auth)) usageError('--auth must be both, header or signature');
const ONLY = args.only === undefined ? undefined : new Set(args.only.split(',').map((n) => n.trim()));
const ALL_SCENARIOS = [
  'tokenupdate-c1',
  'tokenupdate-c8',
  'tokenupdate-c32',
  'tokenupdate-c128',
  'authenticate-new-c32',
  'mixed-c32',
  'signed-tokenupdate-c32',
  'signed-authenticate-new-c32',
];
for (const name of ONLY ?? []) {
  if (!ALL_SCENARIOS.includes(name))
    usageError(`--only: no scenario "${name}" (there are ${ALL_SCENARIOS.join(', ')})`);
}
const WRK_INSTALLED = spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;
const LOAD = args.load ?? (WRK_INSTALLED ? 'wrk' : 'autocannon');
if (!['wrk', 'autocannon'].includes(LOAD)) usageError('--load must be wrk or autocannon');
if (LOAD === 'wrk' && !WRK_INSTALLED) usageError('--load wrk: the wrk command is not installed (apt-get install wrk)');
const wanted = (name) => ONLY === undefined || ONLY.has(name);
const HEADER_SCENARIOS = args.auth !== 'signature' && ALL_SCENARIOS.slice(0, 6).some(wanted);
const SIGNED_SCENARIOS = args.auth !== 'header' && ALL_SCENARIOS.slice(6).some(wanted);
if (!['error', 'warn', 'info', 'debug'].includes(args['log-level']))
  usageError('--log-level must be error, warn, info or debug');
if (!['text', 'json'].includes(args['log-format'])) usageError('--log-format must be text or json');
const METRICS = args.metrics;
const RSA_KEYS = whole(args['rsa-keys'], 'rsa-keys', 16, 1, 4096);
const SIGNED_WARMUP_REQUESTS = 10_000;

const REQUIRED = ['main.js', 'device-identity/dev-ca.js', 'simulator/devices.js', 'simulator/transport.js'];
const missing = REQUIRED.filter((f) => !existsSync(join(DIST, f)));
if (missing.length > 0) {
  process.stderr.write(
    `bench: ${missing.map((f) => `dist/${f}`).join(', ')} not found.\n` +
      'The benchmark runs the compiled server and simulator: run `npm run build` first.\n',
  );
  process.exit(2);
}

const distModule = (path) => import(pathToFileURL(join(DIST, path)).href);
const { default: autocannon } = await import('autocannon');
const { default: mysql } = await import('mysql2/promise');
const devCa = await distModule('device-identity/dev-ca.js');
const sim = await distModule('simulator/devices.js');
const transport = await distModule('simulator/transport.js');

// ---------------------------------------------------------------------------------------------
// Small helpers

const log = (line) => process.stderr.write(`${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM). */
function statusKb(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** The share of all CPUs' time spent busy over `ms` (from /proc/stat), 0–1. */
async function machineBusy(ms = 1000) {
  const sample = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = sample();
  await sleep(ms);
  const b = sample();
  return b.total === a.total ? 0 : 1 - (b.idle - a.idle) / (b.total - a.total);
}

/** The commit the working tree is at, and whether it has changes (dist/ is built from it). */
function gitState() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }) !== '';
    return { commit, srcChanged: dirty };
  } catch {
    return { commit: 'unknown', srcChanged: false };
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function portAnswers(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.setTimeout(timeoutMs);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function pem(label, der) {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64.trimEnd()}\n-----END ${label}-----\n`;
}

function timestamp(d = new Date()) {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
}

// ---------------------------------------------------------------------------------------------
// State that cleanup needs

const tmp = mkdtempSync(join(tmpdir(), 'mdm-bench-'));
const serverLog = join(tmp, 'server.log');
let server; // ChildProcess
let serverExited = false;
let database; // { name, drop() }
let currentLoad; // autocannon instance
let interrupted = false;

class Interrupted extends Error {}
function checkInterrupted() {
  if (interrupted) throw new Interrupted('interrupted');
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`\n${signal}: stopping and cleaning up…`);
    currentLoad?.stop();
  });
}

async function stopServer() {
  if (server === undefined || serverExited) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done && !serverExited) {
    server.kill('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
  }
}

async function cleanup() {
  await stopServer().catch((err) => log(`could not stop the server: ${err.message}`));
  if (database !== undefined) {
    await database.drop().catch((err) => log(`could not drop database ${database.name}: ${err.message}`));
  }
  rmSync(tmp, { recursive: true, force: true });
}

function serverLogLines() {
  try {
    return readFileSync(serverLog, 'utf8').trimEnd().split('\n');
  } catch {
    return [];
  }
}

/** The lines at warn or error (at LOG_LEVEL=info every check-in writes one line at info). */
function warnings(lines) {
  return lines.filter((l) => / (WARN|ERROR) /.test(l) || /"level":"(warn|error)"/.test(l));
}

/** One scrape of /metrics (--metrics): its size, how long it took, and the check-ins it counted. */
async function scrapeMetrics(phase) {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${text.slice(0, 200)}`);
  const checkins = {};
  for (const m of text.matchAll(/^mdm_checkin_requests_total\{message_type="([^"]*)",status="(\d+)"\} (\S+)$/gm)) {
    checkins[`${m[1]} ${m[2]}`] = Number(m[3]);
  }
  const total = Object.values(checkins).reduce((a, b) => a + b, 0);
  log(`metrics (${phase}): ${text.length} bytes in ${ms.toFixed(1)} ms; ${total} check-ins counted since start`);
  return { phase, bytes: text.length, milliseconds: ms, checkins };
}

function serverLogTail(lines = 15) {
  const all = serverLogLines();
  return all.length === 0 ? '(no server log)' : all.slice(-lines).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Set-up: CA, certificates, database, server

async function writeCa() {
  const ca = await devCa.createCa('MDM Check-in Benchmark Device CA');
  const keyDer = await globalThis.crypto.subtle.exportKey('pkcs8', ca.key);
  writeFileSync(join(tmp, devCa.DEV_CA_CERT_FILE), ca.certPem);
  writeFileSync(join(tmp, devCa.DEV_CA_KEY_FILE), pem('PRIVATE KEY', keyDer), { mode: 0o600 });
  return { ca, keyDer, file: join(tmp, devCa.DEV_CA_CERT_FILE) };
}

async function prepareDatabase() {
  const wantMysql = args.db === 'mysql' || (args.db === 'auto' && (await portAnswers(MYSQL.host, MYSQL.port, 1000)));
  if (!wantMysql) {
    return { kind: 'sqlite', label: 'sqlite', version: 'better-sqlite3', url: `sqlite:${join(tmp, 'bench.sqlite')}` };
  }
  const name = `mdm_bench_${timestamp()}_${randomBytes(2).toString('hex')}`;
  let conn;
  try {
    conn = await mysql.createConnection({ ...MYSQL, connectTimeout: 5000 });
  } catch (err) {
    throw new Error(`cannot connect to MySQL/MariaDB as root@${MYSQL.host}:${MYSQL.port}: ${err.message}`, {
      cause: err,
    });
  }
  let version;
  try {
    const [rows] = await conn.query('SELECT VERSION() AS v');
    version = String(rows[0].v);
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await conn.end();
  }
  database = {
    name,
    drop: async () => {
      const c = await mysql.createConnection({ ...MYSQL, connectTimeout: 5000 });
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await c.end();
      }
    },
  };
  const label = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  return { kind: 'mysql', label, version, name, url: `mysql://${MYSQL.user}@${MYSQL.host}:${MYSQL.port}/${name}` };
}

const CONFIG_VARIABLES = [
  'NODE_ENV',
  'PORT',
  'METRICS_PORT',
  'DATABASE_URL',
  'DATA_DIR',
  'SECRETS_KEY',
  'ADMIN_API_KEY',
  'PUSH_TOPICS',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'CHECKIN_MAX_BODY_BYTES',
  'DEVICE_AUTH',
  'DEVICE_CA_FILE',
  'DEVICE_INTERMEDIATES_FILE',
  'DEVICE_CERT_HEADER',
  'DEVICE_CLOCK_SKEW_SECONDS',
  'DEVICE_CERT_BIND_RETRO',
  'MAID_SERVER_UUID',
  'MAID_SIGNING_KEY_FILE',
  'MAID_SIGNING_CERT_FILE',
  'WATCH_PAIRING_KEY_FILE',
  'WATCH_PAIRING_VERIFY_KEYS_FILE',
  'WATCH_PAIRING_TTL_SECONDS',
];

/** The server runs with the same node options as in production unless told otherwise. */
function serverNodeOptions() {
  return args['node-options'] ?? '--max-old-space-size=256';
}

let metricsPort; // set by startServer with --metrics

async function startServer(port, databaseUrl, caFile, deviceAuth) {
  const env = { ...process.env };
  for (const v of CONFIG_VARIABLES) delete env[v]; // DATABASE_POOL_SIZE is left to the caller
  if (METRICS) {
    metricsPort = await freePort();
    env.METRICS_PORT = String(metricsPort);
  }
  Object.assign(env, {
    PORT: String(port),
    LOG_LEVEL: args['log-level'],
    LOG_FORMAT: args['log-format'],
    DATABASE_URL: databaseUrl,
    DATA_DIR: join(tmp, 'data'),
    SECRETS_KEY: randomBytes(32).toString('base64'),
    DEVICE_AUTH: deviceAuth,
    DEVICE_CERT_HEADER: CERT_HEADER,
    DEVICE_CA_FILE: caFile,
  });
  const out = openSync(serverLog, 'a');
  const profile = args['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(args['cpu-prof'])}`];
  const nodeOptions = serverNodeOptions().split(/\s+/).filter(Boolean);
  serverExited = false;
  server = spawn(process.execPath, [...profile, ...nodeOptions, join(DIST, 'main.js')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  server.once('exit', () => {
    serverExited = true;
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    checkInterrupted();
    if (serverExited) throw new Error(`the server exited during start-up:\n${serverLogTail()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) return server.pid;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`the server was not ready within 60 s:\n${serverLogTail()}`);
}

// ---------------------------------------------------------------------------------------------
// Devices and requests

/** A prepared request for autocannon: a device's message with its certificate header. */
function request(device, message) {
  return {
    method: 'PUT',
    path: '/checkin',
    headers: { 'content-type': CONTENT_TYPE, [CERT_HEADER]: device.certHeader },
    body: sim.encode(device, message),
  };
}

/** The same message signed by the device (Mdm-Signature), as it goes to a server in signature mode. */
function signedRequest(device, message) {
  const body = sim.encode(device, message);
  return {
    method: 'PUT',
    path: '/checkin',
    headers: { 'content-type': CONTENT_TYPE, 'mdm-signature': device.sign(body) },
    body,
  };
}

/** Enrolls the population as devices do: Authenticate, TokenUpdate, and SetBootstrapToken on Macs. */
async function enroll(port, population) {
  const client = new transport.CheckinClient(new URL(`http://127.0.0.1:${port}/checkin`), 32, 30_000);
  let next = 0;
  let sent = 0;
  const started = performance.now();
  const send = async (device, message, what) => {
    const r = request(device, message);
    const reply = await client.send(r.body, { [CERT_HEADER]: device.certHeader });
    sent += 1;
    if (reply.status !== 200) {
      throw new Error(`enrolling ${device.udid}: ${what} answered ${reply.status}: ${reply.body.toString('utf8')}`);
    }
  };
  const worker = async () => {
    while (next < population.length) {
      checkInterrupted();
      const d = population[next++];
      await send(d, sim.authenticate(d), 'Authenticate');
      await send(d, sim.tokenUpdate(d, { awaitingConfiguration: true, withUnlockToken: true }), 'TokenUpdate');
      if (d.bootstrapToken !== undefined) await send(d, sim.setBootstrapToken(d), 'SetBootstrapToken');
    }
  };
  try {
    await Promise.all(Array.from({ length: 32 }, worker));
  } finally {
    client.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return { devices: population.length, requests: sent, seconds, rps: sent / seconds };
}

/** Hands out indexes 0…n-1 round-robin. */
function cursor(n) {
  let i = 0;
  return {
    next() {
      const v = i % n;
      i += 1;
      return v;
    },
  };
}

/** An autocannon request slot that sends whatever `pick()` returns. */
function slot(pick, onResponse) {
  return {
    setupRequest: (req, context) => {
      const r = pick(context);
      return { ...req, method: r.method, path: r.path, headers: r.headers, body: r.body };
    },
    ...(onResponse !== undefined ? { onResponse } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Driving load and measuring

async function drive(port, { connections, seconds, requests, maxOverallRequests, amount, list }) {
  if (list !== undefined && LOAD === 'wrk' && amount === undefined)
    return driveWrk(port, { connections, seconds, list });
  const latencies = [];
  const opts = {
    url: `http://127.0.0.1:${port}/checkin`,
    connections,
    requests,
    timeout: 10,
  };
  if (amount !== undefined) opts.amount = amount;
  else opts.duration = seconds;
  if (maxOverallRequests !== undefined) opts.maxOverallRequests = Math.max(connections, maxOverallRequests);
  const instance = autocannon(opts);
  currentLoad = instance;
  instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  try {
    const result = await instance;
    return { result, latencies };
  } finally {
    currentLoad = undefined;
  }
}

/** A Lua string literal holding these bytes exactly (long brackets would turn CR LF into LF). */
function luaString(buf) {
  // Printable ASCII stays as it is (most of a request); anything else, and " and \, as \ddd.
  const escaped = buf
    .toString('latin1')
    .replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, (c) => `\\${String(c.charCodeAt(0)).padStart(3, '0')}`);
  return `"${escaped}"`;
}

let wrkScripts = 0;

/**
 * The same load with wrk (C, event-driven: it leaves the cores to the server far more than
 * autocannon, which needs about a core of its own). Every request is pre-formatted; each of
 * wrk's two threads walks the list round-robin from its own starting point. Latencies come
 * from wrk's own histogram; errors are its socket errors, timeouts and non-2xx answers.
 */
async function driveWrk(port, { connections, seconds, list }) {
  const file = join(tmp, `wrk-${wrkScripts++}.lua`);
  // Written line by line: with 100,000 devices the script is hundreds of megabytes.
  const fd = openSync(file, 'w');
  const line = (text) => writeSync(fd, `${text}\n`);
  line('local reqs = {}');
  // A Lua function holds at most 65,536 constants: the requests are put in by chunks, each in
  // a function of its own.
  const CHUNK = 10_000;
  list.forEach((r, i) => {
    if (i % CHUNK === 0) line(`${i === 0 ? '' : 'end\n'}local function fill${i / CHUNK}()`);
    const head =
      `${r.method} ${r.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
      Object.entries(r.headers)
        .filter(([k]) => k.toLowerCase() !== 'content-length')
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('') +
      `Content-Length: ${r.body.length}\r\n\r\n`;
    line(`reqs[${i + 1}] = ${luaString(Buffer.concat([Buffer.from(head, 'latin1'), r.body]))}`);
  });
  if (list.length > 0) line('end');
  for (let k = 0; k * CHUNK < list.length; k++) line(`fill${k}()`);
  [
    'local threads = 0',
    'function setup(thread) thread:set("start", threads); threads = threads + 1 end',
    'local i = 0',
    'function init(args) i = math.floor((start or 0) * #reqs / 2) end',
    'function request() i = i + 1; if i > #reqs then i = 1 end; return reqs[i] end',
    'function done(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format("WRK-RESULT {\\"requests\\":%d,\\"durationUs\\":%d,\\"connect\\":%d,\\"read\\":%d,' +
      '\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"p50\\":%d,\\"p95\\":%d,\\"p99\\":%d,\\"max\\":%d,\\"mean\\":%f}\\n",',
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))',
    'end',
  ].forEach(line);
  closeSync(fd);
  const child = spawn(
    'wrk',
    [
      '-t',
      String(Math.min(2, connections)),
      '-c',
      String(connections),
      '-d',
      `${seconds}s`,
      '--timeout',
      '10s',
      '-s',
      file,
      `http://127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  currentLoad = { stop: () => child.kill('SIGINT') };
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  try {
    await new Promise((resolveDone, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolveDone() : reject(new Error(`wrk exited with ${code}`))));
    });
  } finally {
    currentLoad = undefined;
  }
  const m = /WRK-RESULT (\{.*\})/.exec(output);
  if (m === null) throw new Error(`wrk printed no result:\n${output}`);
  const w = JSON.parse(m[1]);
  const ms = (us) => us / 1000;
  return {
    result: {
      duration: w.durationUs / 1e6,
      errors: w.connect + w.read + w.write,
      timeouts: w.timeout,
      non2xx: w.status,
      statusCodeStats: {},
    },
    latencies: undefined,
    wrk: { responses: w.requests, p50: ms(w.p50), p95: ms(w.p95), p99: ms(w.p99), max: ms(w.max), mean: ms(w.mean) },
  };
}

/** Warm-up, then the measured run with the server's CPU time and RSS sampled around it. */
async function scenario(port, pid, def) {
  checkInterrupted();
  log(`▶ ${def.name}: ${def.description} (${def.connections} connections, ${WARMUP} s warm-up + ${DURATION} s)`);
  if (def.warmupRequests !== undefined) {
    const warm = await drive(port, {
      connections: def.connections,
      amount: def.warmupRequests,
      requests: def.requests(),
    });
    const failures = warm.result.errors + warm.result.non2xx;
    if (failures > 0) log(`  warm-up pass: ${failures} of ${def.warmupRequests} requests failed`);
  }
  if (WARMUP > 0) {
    await drive(port, { connections: def.connections, seconds: WARMUP, requests: def.requests(), list: def.list });
  }
  checkInterrupted();
  def.beforeMeasure?.();
  let peakRssKb = statusKb(pid, 'VmRSS');
  const sampler = setInterval(() => {
    try {
      peakRssKb = Math.max(peakRssKb, statusKb(pid, 'VmRSS'));
    } catch {
      // the server is gone; the run reports its errors
    }
  }, 100);
  const cpuBefore = cpuSeconds(pid);
  const clientBefore = process.cpuUsage();
  let run;
  try {
    run = await drive(port, {
      connections: def.connections,
      seconds: DURATION,
      requests: def.requests(),
      maxOverallRequests: def.maxOverallRequests?.(),
      list: def.list,
    });
  } finally {
    clearInterval(sampler);
  }
  const cpu = serverExited ? Number.NaN : cpuSeconds(pid) - cpuBefore;
  const clientCpu = process.cpuUsage(clientBefore);
  const { result, latencies, wrk } = run;
  const sorted = Float64Array.from(latencies ?? []).sort();
  const responses = wrk?.responses ?? sorted.length;
  const pct = (p) => (wrk !== undefined ? wrk[`p${p}`] : percentile(sorted, p));
  const mismatches = def.mismatches?.() ?? 0;
  const errors = result.errors + result.non2xx + mismatches;
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([k, v]) => [k, v.count]));
  const out = {
    name: def.name,
    description: def.description,
    connections: def.connections,
    seconds: result.duration,
    responses,
    requestsPerSecond: responses / result.duration,
    loadGenerator: wrk !== undefined ? 'wrk' : 'autocannon',
    latencyMs: {
      p50: pct(50),
      p95: pct(95),
      p99: pct(99),
      max: wrk?.max ?? (sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN),
      mean: wrk?.mean ?? (responses > 0 ? sorted.reduce((a, b) => a + b, 0) / responses : Number.NaN),
    },
    errors,
    socketErrors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches,
    statusCodes,
    serverCpuSeconds: cpu,
    serverCpuSecondsPer1k: responses > 0 ? cpu / (responses / 1000) : Number.NaN,
    serverCpuMicrosecondsPerRequest: responses > 0 ? (cpu * 1e6) / responses : Number.NaN,
    deviceAuth: def.deviceAuth ?? 'header',
    loadGeneratorCpuSecondsPer1k:
      responses > 0 ? (clientCpu.user + clientCpu.system) / 1e6 / (responses / 1000) : Number.NaN,
    serverPeakRssMb: peakRssKb / 1024,
    failed: errors > 0 || responses === 0,
    ...def.extra?.(),
  };
  const f = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  log(
    out.failed
      ? `  FAILED: ${errors} errors (socket ${result.errors}, non-2xx ${result.non2xx}, wrong body ${mismatches}); statuses ${JSON.stringify(statusCodes)}`
      : `  ${f(out.requestsPerSecond, 0)} req/s  p50 ${f(out.latencyMs.p50)} ms  p95 ${f(out.latencyMs.p95)} ms  p99 ${f(out.latencyMs.p99)} ms  ` +
          `server CPU ${f(out.serverCpuMicrosecondsPerRequest, 0)} µs/req  RSS ${f(out.serverPeakRssMb, 0)} MB`,
  );
  if (out.failed) log(`  server log (last lines):\n${serverLogTail(5).replace(/^/gm, '    ')}`);
  return out;
}

function table(results) {
  const head = ['scenario', 'conns', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'CPU µs/req', 'peak RSS MB'];
  const f = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const rows = results.map((r) =>
    r.failed
      ? [r.name, String(r.connections), 'FAILED', '-', '-', '-', String(r.errors), '-', f(r.serverPeakRssMb, 0)]
      : [
          r.name,
          String(r.connections),
          f(r.requestsPerSecond, 0),
          f(r.latencyMs.p50),
          f(r.latencyMs.p95),
          f(r.latencyMs.p99),
          String(r.errors),
          f(r.serverCpuMicrosecondsPerRequest, 0),
          f(r.serverPeakRssMb, 0),
        ],
  );
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The run

async function main() {
  const started = performance.now();
  const runTag = randomBytes(4).toString('hex');
  // Fresh devices for authenticate-new: 2,000 per second of the run, well above what a 2-core
  // machine serves; the run stops early when they are used up rather than re-enroll devices.
  // The mixed scenario needs about one new device per ten requests.
  // Signed Authenticates are slower to serve and to prepare: 1,000 per second of the run.
  const authPoolSize = HEADER_SCENARIOS ? (WARMUP + DURATION) * 2000 : 0;
  const mixedPoolSize = HEADER_SCENARIOS ? (WARMUP + DURATION) * 200 : 0;
  const signedAuthPoolSize = SIGNED_SCENARIOS ? (WARMUP + DURATION) * 1000 : 0;
  let index = 0;
  const make = (n) => Array.from({ length: n }, () => sim.makeDevice(index++, runTag));
  const population = make(DEVICES);
  const authPool = make(authPoolSize);
  const mixedPool = make(mixedPoolSize);
  const signedAuthPool = make(signedAuthPoolSize);
  const everyone = [...population, ...authPool, ...mixedPool, ...signedAuthPool];

  log(
    `benchmark: ${DEVICES} devices, ${DURATION} s per scenario after ${WARMUP} s warm-up; ` +
      `${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
  );
  const busyBefore = await machineBusy();
  if (busyBefore > 0.2) {
    log(
      `warning: the CPUs were ${(busyBefore * 100).toFixed(0)}% busy before the run: something else is running; ` +
        'the figures will be low and noisy',
    );
  }
  const ca = await writeCa();
  const certStarted = performance.now();
  const { issueWithKey } = await fastIssuer(devCa, ca.ca, ca.keyDer, { keyType: 'rsa', rsaKeys: RSA_KEYS });
  for (const d of everyone) {
    const { der, privateKey } = issueWithKey(d.index);
    d.certHeader = transport.certificateHeaderValue(der);
    d.sign = deviceSigner(der, privateKey);
  }
  const certSeconds = (performance.now() - certStarted) / 1000;
  log(
    `certificates: ${everyone.length} issued in ${certSeconds.toFixed(1)} s ` +
      `(RSA-2048, a certificate per device, keys from a pool of ${RSA_KEYS})`,
  );
  checkInterrupted();

  const db = await prepareDatabase();
  log(`database: ${db.kind === 'mysql' ? `${db.version} database ${db.name}` : `SQLite in ${tmp}`}`);
  const port = await freePort();
  let pid = await startServer(port, db.url, ca.file, 'header');
  log(`server: pid ${pid}, http://127.0.0.1:${port}, DEVICE_AUTH=header (${CERT_HEADER})`);

  const enrollment = await enroll(port, population);
  log(
    `enrolled ${enrollment.devices} devices: ${enrollment.requests} check-ins in ${enrollment.seconds.toFixed(1)} s ` +
      `(${enrollment.rps.toFixed(0)}/s, 32 at a time)`,
  );
  let logMark = serverLogLines().length;
  const logged = [];
  checkInterrupted();

  // A later TokenUpdate of every enrolled device: new token and PushMagic, no UnlockToken.
  const tokenUpdates = population.map((d) => {
    sim.rotatePushCredentials(d);
    return request(d, sim.tokenUpdate(d, { awaitingConfiguration: false, withUnlockToken: false }));
  });
  // The mixed scenario checks out devices of its own (the last tenth) so no other request of it
  // meets a disabled enrollment; its TokenUpdates and GetBootstrapTokens use the rest.
  const reserved = Math.max(1, Math.floor(DEVICES / 10));
  const active = DEVICES - reserved;
  const macs = population.slice(0, active).filter((d) => d.bootstrapToken !== undefined);
  const bootstrapRequests = macs.map((d) => request(d, sim.getBootstrapToken(d)));
  const checkOuts = population.slice(active).map((d) => request(d, sim.checkOut(d)));
  const authenticates = authPool.map((d) => request(d, sim.authenticate(d)));
  const mixedAuth = mixedPool.map((d) => request(d, sim.authenticate(d)));
  const mixedFirstTokenUpdate = mixedPool.map((d) =>
    request(d, sim.tokenUpdate(d, { awaitingConfiguration: true, withUnlockToken: true })),
  );

  const tu = cursor(DEVICES);
  const tokenUpdateScenario = (connections) => ({
    name: `tokenupdate-c${connections}`,
    description: 'TokenUpdate of enrolled devices, round-robin over the population',
    connections,
    requests: () => [slot(() => tokenUpdates[tu.next()])],
    list: tokenUpdates,
  });

  let authUsed = 0;
  const authScenario = {
    name: 'authenticate-new-c32',
    description: 'Authenticate of devices never seen before (one fresh certificate each)',
    connections: 32,
    requests: () => [slot(() => authenticates[authUsed++ % authenticates.length])],
    maxOverallRequests: () => authenticates.length - authUsed - 32,
    extra: () => ({
      freshDevicesUsed: authUsed,
      freshDevicesAvailable: authenticates.length,
      freshDevicesReused: Math.max(0, authUsed - authenticates.length),
    }),
  };

  // Per 20 requests: 2 new devices (Authenticate, then TokenUpdate on the same connection),
  // 14 TokenUpdates of enrolled devices, 1 GetBootstrapToken, 1 CheckOut.
  const PLAN = ['new', 'new-tu', 'tu', 'tu', 'tu', 'tu', 'tu', 'tu', 'tu', 'gbt'];
  const PLAN2 = ['new', 'new-tu', 'tu', 'tu', 'tu', 'tu', 'tu', 'tu', 'tu', 'co'];
  const mixedActive = cursor(active);
  const gbt = cursor(Math.max(1, bootstrapRequests.length));
  const co = cursor(checkOuts.length);
  let mixedNew = 0;
  let mixedMismatches = 0;
  let mixedCounts = {};
  const count = (kind, status) => {
    const key = `${kind} ${status}`;
    mixedCounts[key] = (mixedCounts[key] ?? 0) + 1;
  };
  const mixedSlot = (kind) => {
    const pick = {
      new: (ctx) => {
        ctx.fresh = mixedNew++ % mixedPool.length;
        return mixedAuth[ctx.fresh];
      },
      'new-tu': (ctx) => mixedFirstTokenUpdate[ctx.fresh ?? 0],
      tu: () => tokenUpdates[mixedActive.next()],
      gbt: () => (bootstrapRequests.length > 0 ? bootstrapRequests[gbt.next()] : tokenUpdates[mixedActive.next()]),
      co: () => checkOuts[co.next()],
    }[kind];
    const label = {
      new: 'Authenticate (new)',
      'new-tu': 'TokenUpdate (new)',
      tu: 'TokenUpdate',
      gbt: 'GetBootstrapToken',
      co: 'CheckOut',
    }[kind];
    return slot(pick, (status, body) => {
      count(label, status);
      if (
        kind === 'gbt' &&
        status === 200 &&
        bootstrapRequests.length > 0 &&
        !body.includes('<key>BootstrapToken</key>')
      ) {
        mixedMismatches += 1;
      }
    });
  };
  const mixedScenario = {
    name: 'mixed-c32',
    description:
      'day in the life: 70% TokenUpdate, 10%+10% Authenticate+TokenUpdate of new devices, 5% GetBootstrapToken, 5% CheckOut',
    connections: 32,
    requests: () => [...PLAN, ...PLAN2].map(mixedSlot),
    beforeMeasure: () => {
      mixedCounts = {};
      mixedMismatches = 0;
    },
    mismatches: () => mixedMismatches,
    extra: () => ({
      byMessage: mixedCounts,
      freshDevicesUsed: mixedNew,
      freshDevicesAvailable: mixedPool.length,
      freshDevicesReused: Math.max(0, mixedNew - mixedPool.length),
    }),
  };

  const scenarios = HEADER_SCENARIOS
    ? [
        tokenUpdateScenario(1),
        tokenUpdateScenario(8),
        tokenUpdateScenario(32),
        tokenUpdateScenario(128),
        authScenario,
        mixedScenario,
      ]
    : [];
  const results = [];
  for (const def of scenarios.filter((d) => wanted(d.name))) results.push(await scenario(port, pid, def));
  let peakRssOverallMb = statusKb(pid, 'VmHWM') / 1024;
  const scrapes = [];
  if (METRICS) scrapes.push(await scrapeMetrics('header'));
  // What the server logged while the scenarios ran at warn or above.
  logged.push(...warnings(serverLogLines().slice(logMark)));

  if (SIGNED_SCENARIOS) {
    // The messages the devices sign, signed before anything is timed.
    const signStarted = performance.now();
    // The devices the mixed scenario checked out are left out.
    const signedPopulation = HEADER_SCENARIOS ? population.slice(0, active) : population;
    const signedTokenUpdates = signedPopulation.map((d) =>
      signedRequest(d, sim.tokenUpdate(d, { awaitingConfiguration: false, withUnlockToken: false })),
    );
    const signedAuthenticates = signedAuthPool.map((d) => signedRequest(d, sim.authenticate(d)));
    log(
      `signatures: ${signedTokenUpdates.length + signedAuthenticates.length} made in ` +
        `${((performance.now() - signStarted) / 1000).toFixed(1)} s (before the timed part)`,
    );
    checkInterrupted();
    await stopServer();
    pid = await startServer(port, db.url, ca.file, 'signature');
    log(`server: pid ${pid}, restarted with DEVICE_AUTH=signature on the same database`);
    logMark = serverLogLines().length;

    const signedTu = cursor(signedTokenUpdates.length);
    let signedAuthUsed = 0;
    const signedScenarios = [
      {
        name: 'signed-tokenupdate-c32',
        description: 'signed TokenUpdate of enrolled devices, round-robin over the population',
        deviceAuth: 'signature',
        connections: 32,
        // Untimed: every device once (the restarted server has no certificate in its caches),
        // and at least 10,000 requests, so that this process is as warm (JIT, heap sizing) as
        // the header-mode one was when its scenarios ran; measured fresh, the same header-mode
        // TokenUpdates cost ~40 % more CPU.
        warmupRequests: Math.max(signedTokenUpdates.length, SIGNED_WARMUP_REQUESTS),
        requests: () => [slot(() => signedTokenUpdates[signedTu.next()])],
        list: signedTokenUpdates,
      },
      {
        name: 'signed-authenticate-new-c32',
        description: 'signed Authenticate of devices never seen before (one fresh certificate each)',
        deviceAuth: 'signature',
        connections: 32,
        requests: () => [slot(() => signedAuthenticates[signedAuthUsed++ % signedAuthenticates.length])],
        maxOverallRequests: () => signedAuthenticates.length - signedAuthUsed - 32,
        extra: () => ({
          freshDevicesUsed: signedAuthUsed,
          freshDevicesAvailable: signedAuthenticates.length,
          freshDevicesReused: Math.max(0, signedAuthUsed - signedAuthenticates.length),
        }),
      },
    ];
    for (const def of signedScenarios.filter((d) => wanted(d.name))) results.push(await scenario(port, pid, def));
    peakRssOverallMb = Math.max(peakRssOverallMb, statusKb(pid, 'VmHWM') / 1024);
    if (METRICS) scrapes.push(await scrapeMetrics('signature'));
    logged.push(...warnings(serverLogLines().slice(logMark)));
  }

  if (logged.length > 0) {
    log(`the server logged ${logged.length} lines during the scenarios, first ones:\n${logged.slice(0, 5).join('\n')}`);
  }

  process.stdout.write(`\n${table(results)}\n\n`);
  const now = new Date();
  const date = now.toISOString().slice(0, 10);
  const report = {
    date: now.toISOString(),
    git: gitState(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpuBusyBefore: Math.round(busyBefore * 100) / 100,
    },
    database: { kind: db.label, version: db.version },
    server: {
      deviceAuth: SIGNED_SCENARIOS ? (HEADER_SCENARIOS ? 'header, then signature' : 'signature') : 'header',
      logLevel: args['log-level'],
      logFormat: args['log-format'],
      metrics: METRICS,
      databasePoolSize: process.env.DATABASE_POOL_SIZE ?? '10 (default)',
      nodeOptions: serverNodeOptions(),
    },
    devices: DEVICES,
    quick: QUICK,
    durationSeconds: DURATION,
    warmupSeconds: WARMUP,
    certificates: { issued: everyone.length, seconds: certSeconds, keyType: 'rsa-2048', rsaKeyPool: RSA_KEYS },
    enrollment,
    scenarios: results,
    ...(METRICS ? { metricsScrapes: scrapes } : {}),
    serverPeakRssOverallMb: peakRssOverallMb,
    serverLogLinesDuringScenarios: logged.length,
    totalSeconds: (performance.now() - started) / 1000,
  };
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${date}-${db.label}${QUICK ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  log(`results: ${relative(process.cwd(), file)}; ${report.totalSeconds.toFixed(0)} s in all`);
  return results.some((r) => r.failed) ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  if (err instanceof Interrupted) {
    code = 130;
  } else {
    log(`bench failed: ${err.stack ?? err.message}`);
    if (server !== undefined) log(`server log (last lines):\n${serverLogTail()}`);
  }
} finally {
  await cleanup();
}
process.exit(code);
