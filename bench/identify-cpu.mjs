#!/usr/bin/env node
// CPU time of the server's device identification alone, in one process, without HTTP or a
// database: DeviceIdentityService.identify() in signature mode (DEVICE_AUTH=signature) on
// check-ins of 64 distinct devices whose certificates the server has already seen, as in the
// steady state, and separately on certificates it has never seen. Signatures are made by PKI.js
// (an implementation independent of the server's) before anything is timed: SHA-256, signed
// attributes, BER with indefinite lengths.
//
//   npm run build && node bench/identify-cpu.mjs [--dist DIR] [--rounds N]
//
// Prints the CPU microseconds per message (process.cpuUsage over the loop): a figure that
// stays comparable on a busy machine, unlike requests per second.
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { dist: { type: 'string' }, rounds: { type: 'string', default: '3000' } },
});
const dist = resolve(args.dist ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'dist'));
if (!existsSync(join(dist, 'device-identity', 'cms.js'))) {
  process.stderr.write(`identify-cpu: ${dist}/device-identity/cms.js not found: run \`npm run build\` first\n`);
  process.exit(2);
}
const load = (path) => import(pathToFileURL(join(dist, path)).href);
const cms = await load('device-identity/cms.js');
// The signer moved out of cms.js; older builds (--dist) still have it there.
const signer = existsSync(join(dist, 'device-identity', 'cms-signer.js'))
  ? await load('device-identity/cms-signer.js')
  : cms;
const devCa = await load('device-identity/dev-ca.js');
const { CertificateVerifier } = await load('device-identity/certificate-verifier.js');
const { DeviceIdentityService } = await load('device-identity/device-identity.service.js');

const ROUNDS = Number(args.rounds);
const DEVICES = 64;
const ca = await devCa.createCa('identify-cpu CA');
const body = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>MessageType</key><string>TokenUpdate</string>' +
    `<key>Token</key><data>${'A'.repeat(44)}</data><key>PushMagic</key><string>${'B'.repeat(36)}</string>` +
    `<key>Topic</key><string>com.apple.mgmt.External.x</string><key>UDID</key><string>${'C'.repeat(36)}</string>` +
    '</dict></plist>\n',
);

function service() {
  return new DeviceIdentityService(
    new CertificateVerifier([new X509Certificate(ca.certPem)], [], 300),
    'signature',
    'x',
  );
}

async function cpuPerMessage(identify, headers, rounds) {
  const before = process.cpuUsage();
  for (let i = 0; i < rounds; i++) await identify(headers[i % headers.length]);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / rounds;
}

for (const keyType of ['rsa', 'ec']) {
  const headers = [];
  for (let i = 0; i < DEVICES; i++) {
    const id = await devCa.issueIdentity(ca, { commonName: `device-${i}`, keyType });
    headers.push({ 'mdm-signature': await signer.signDetached(body, id.certDer, id.key, { indefiniteLength: true }) });
  }
  // Never seen: a fresh server (and verifier) for each pass over the devices.
  let fresh = 0;
  for (let pass = 0; pass < 5; pass++) {
    const s = service();
    cms.certificateCacheForTests?.clear(); // builds before the certificate cache have none
    fresh += await cpuPerMessage((h) => s.identify(h, body), headers, DEVICES);
  }
  const s = service();
  await cpuPerMessage((h) => s.identify(h, body), headers, 500); // warm: every certificate seen, JIT done
  const seen = await cpuPerMessage((h) => s.identify(h, body), headers, ROUNDS);
  const name = keyType === 'rsa' ? 'RSA-2048' : 'EC P-256';
  process.stdout.write(
    `${name}: ${seen.toFixed(0)} µs CPU per message (certificate seen before), ` +
      `${(fresh / 5).toFixed(0)} µs (certificate never seen: chain check included)\n`,
  );
}
