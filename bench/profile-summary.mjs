#!/usr/bin/env node
// Sums up a V8 CPU profile (node --cpu-prof; `npm run bench -- --cpu-prof DIR` leaves one):
// the share of the busy samples (idle excluded) spent in each package / part of the server, and
// the functions with the most self time.
//
//   node bench/profile-summary.mjs DIR/CPU.*.cpuprofile [--top N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' } },
});
if (positionals.length !== 1) {
  process.stderr.write('usage: node bench/profile-summary.mjs PROFILE.cpuprofile [--top N]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));

// Self samples per node (the samples array names the leaf node of each sample).
const selfCount = new Map();
for (const id of profile.samples) selfCount.set(id, (selfCount.get(id) ?? 0) + 1);

/** Which part of the process a frame belongs to. */
function part(frame) {
  const { url, functionName } = frame;
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return '(program: native, outside JS)';
  if (url === '') return functionName.startsWith('(') ? functionName : 'native/builtin';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm: ${pkg[1]}`;
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0]}`;
  const src = /\/dist\/(.+?)\/[^/]+\.js$/.exec(url);
  if (src) return `server: ${src[1]}`;
  const top = /\/dist\/([^/]+)\.js$/.exec(url);
  if (top) return `server: ${top[1]}`;
  return url;
}

let busy = 0;
const byPart = new Map();
const byFunction = new Map();
for (const [id, count] of selfCount) {
  const frame = nodes.get(id).callFrame;
  const p = part(frame);
  if (p === '(idle)') continue;
  busy += count;
  byPart.set(p, (byPart.get(p) ?? 0) + count);
  const file = frame.url.replace(/^.*\/(node_modules|dist)\//, '$1/');
  const key = `${frame.functionName || '(anonymous)'}  ${file}:${frame.lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + count);
}

const pct = (n) => `${((100 * n) / busy).toFixed(1).padStart(5)} %`;
const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
const total = profile.samples.length;
process.stdout.write(`samples: ${total}, busy (not idle): ${busy} (${((100 * busy) / total).toFixed(1)} %)\n\n`);
process.stdout.write('share of the busy samples, by part (self time):\n');
for (const [p, n] of sorted(byPart)) process.stdout.write(`${pct(n)}  ${p}\n`);
process.stdout.write(`\ntop ${values.top} functions by self time:\n`);
for (const [f, n] of sorted(byFunction).slice(0, Number(values.top))) process.stdout.write(`${pct(n)}  ${f}\n`);
