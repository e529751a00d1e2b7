// Development tools for device identity, against the development CA in DATA_DIR:
//
//   npm run dev:device-cert -- --udid <UDID> [--key ec|rsa] [--out <dir>]
//       issues a device identity certificate and key (PEM) for that UDID or EnrollmentID
//   npm run -s dev:sign -- --udid <UDID> --body <file> [--hash SHA-1|SHA-256]
//       prints the Mdm-Signature header value for <file>, signed with that identity
//
// Never for production: real devices get their identities from your SCEP/ACME CA.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../config/config.js';
import { signDetached } from './cms-signer.js';
import { issueIdentity, loadIdentity, loadOrCreateDevCa } from './dev-ca.js';
import type { KeyType } from './dev-ca.js';

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      udid: { type: 'string' },
      key: { type: 'string', default: 'ec' },
      out: { type: 'string' },
      body: { type: 'string' },
      hash: { type: 'string', default: 'SHA-256' },
    },
  });
  const config = loadConfigOrExit();
  const udid = values.udid;
  if (udid === undefined || !/^[^:/\\\s]{1,128}$/.test(udid)) fail('--udid <UDID or EnrollmentID> is required');
  const keyType = values.key as KeyType;
  if (keyType !== 'ec' && keyType !== 'rsa') fail('--key must be ec or rsa');
  const dir = values.out ?? join(config.dataDir, 'dev-devices');
  const certPath = join(dir, `${udid}.cert.pem`);
  const keyPath = join(dir, `${udid}.key.pem`);

  if (command === 'cert') {
    const { ca, created, path } = await loadOrCreateDevCa(config.dataDir);
    if (created) process.stderr.write(`created the development CA at ${path}\n`);
    const identity = await issueIdentity(ca, { commonName: udid, keyType });
    mkdirSync(dir, { recursive: true });
    writeFileSync(certPath, identity.certPem);
    writeFileSync(keyPath, identity.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, `${udid}.key-type`), keyType);
    process.stdout.write(`certificate: ${certPath}\nprivate key: ${keyPath}\n`);
    return;
  }
  if (command === 'sign') {
    if (values.body === undefined) fail('--body <file> is required');
    if (!existsSync(certPath))
      fail(`no identity for ${udid} in ${dir}: run npm run dev:device-cert -- --udid ${udid} first`);
    const hash = values.hash === 'SHA-1' ? 'SHA-1' : 'SHA-256';
    const typeFile = join(dir, `${udid}.key-type`);
    const storedType = existsSync(typeFile) ? (readFileSync(typeFile, 'utf8').trim() as KeyType) : keyType;
    const identity = await loadIdentity(
      readFileSync(certPath, 'utf8'),
      readFileSync(keyPath, 'utf8'),
      storedType,
      hash,
    );
    process.stdout.write(
      `${await signDetached(readFileSync(values.body), identity.certDer, identity.key, { hash })}\n`,
    );
    return;
  }
  fail('usage: dev-cli cert|sign --udid <UDID> [...]');
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

void main();
