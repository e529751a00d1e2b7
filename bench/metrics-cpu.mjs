#!/usr/bin/env node
// CPU time of the metrics the check-in controller feeds per request, in one process without
// HTTP: MetricsService.checkin() (a counter, a histogram, and for refusals a second counter),
// with METRICS_PORT set and unset, and of one scrape (the registry's text) after those calls.
//
//   npm run build && node bench/metrics-cpu.mjs [--calls N]
//
// Prints CPU microseconds per call (process.cpuUsage over the loop): comparable on a busy
// machine, unlike requests per second.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { calls: { type: 'string', default: '1000000' } } });
const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
if (!existsSync(join(dist, 'metrics', 'metrics.service.js'))) {
  process.stderr.write('metrics-cpu: dist/metrics/metrics.service.js not found: run `npm run build` first\n');
  process.exit(2);
}
await import('reflect-metadata');
const { MetricsService } = await import(pathToFileURL(join(dist, 'metrics', 'metrics.service.js')).href);

const CALLS = Number(args.calls);
// What a mixed load sends: mostly TokenUpdates answered 200, a few other types and refusals.
const MIX = [
  ['TokenUpdate', 200, undefined],
  ['TokenUpdate', 200, undefined],
  ['TokenUpdate', 200, undefined],
  ['Authenticate', 200, undefined],
  ['GetBootstrapToken', 200, undefined],
  ['TokenUpdate', 403, 'certificate_not_bound'],
  [undefined, 400, 'proof_invalid'],
  ['Bogus', 400, undefined],
];
// SQLite: no pool gauges (they are read at scrape time only anyway).
const dataSource = { options: { type: 'better-sqlite3' } };

function measure(metrics) {
  const started = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) {
    const [type, status, refusal] = MIX[i & 7];
    metrics.checkin(type, status, 0.0012 + (i & 15) * 0.0003, refusal);
  }
  const used = process.cpuUsage(started);
  return (used.user + used.system) / CALLS;
}

const off = new MetricsService({ metricsPort: undefined, databasePoolSize: 10 }, dataSource);
const on = new MetricsService({ metricsPort: 0, databasePoolSize: 10 }, dataSource);
// Warm both paths up, then measure each twice, alternately.
measure(off);
measure(on);
const results = { off: [], on: [] };
for (let round = 0; round < 2; round++) {
  results.off.push(measure(off));
  results.on.push(measure(on));
}
const scrapeStarted = process.cpuUsage();
const text = await on.registry.metrics();
const scrape = process.cpuUsage(scrapeStarted);
const f = (xs) => xs.map((x) => x.toFixed(3)).join(', ');
process.stdout.write(
  `MetricsService.checkin(), ${CALLS.toLocaleString('en')} calls per round:\n` +
    `  METRICS_PORT unset: ${f(results.off)} µs CPU per call\n` +
    `  METRICS_PORT set:   ${f(results.on)} µs CPU per call\n` +
    `one scrape: ${text.length} bytes, ${((scrape.user + scrape.system) / 1000).toFixed(1)} ms CPU\n`,
);
// The default metrics' event-loop monitor keeps a timer: end here.
process.exit(0);
