import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, buildBinary, parse } from 'plist';
import type { PlistValue } from 'plist';
import { signDetached } from '../../src/device-identity/cms-signer.js';
import type { SignOptions } from '../../src/device-identity/cms-signer.js';
import { issueIdentity } from '../../src/device-identity/dev-ca.js';
import type { CertificateAuthority, DeviceIdentity } from '../../src/device-identity/dev-ca.js';

// Compiled tests run from .build/test/support; fixtures stay in the source tree.
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures');

/** The exact bytes of a fixture file. */
export function fixtureBytes(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

type Overrides = Record<string, PlistValue | Buffer | undefined>;

/**
 * A fixture as a dictionary with some keys replaced (`undefined` removes a key). Parsed
 * with the `plist` package, not the server's own decoder, so the two check each other.
 */
export function fixtureDict(name: string, overrides: Overrides = {}): Record<string, PlistValue> {
  const bytes = fixtureBytes(name);
  const dict = parse(name.endsWith('.bplist') ? new Uint8Array(bytes) : bytes.toString('utf8')) as Record<
    string,
    PlistValue
  >;
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete dict[k];
    else dict[k] = v;
  }
  return dict;
}

/** A fixture, modified, as an XML plist body. */
export function xmlMessage(name: string, overrides: Overrides = {}): Buffer {
  return Buffer.from(build(fixtureDict(name, overrides)), 'utf8');
}

/** A fixture, modified, as a binary plist body. */
export function binaryMessage(name: string, overrides: Overrides = {}): Buffer {
  return Buffer.from(buildBinary(fixtureDict(name, overrides)));
}

export interface Reply {
  status: number;
  body: Buffer;
  text: string;
  headers: Headers;
}

export interface SendOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** false: send no identity at all. */
  sign?: boolean;
  /** Prove this identity instead of the device's own. */
  identity?: DeviceIdentity;
  signOptions?: SignOptions;
}

/** The device id a body claims, read with the `plist` package; undefined when it has none. */
function claimedDevice(body: Buffer): string | undefined {
  try {
    const dict = parse(
      body.subarray(0, 8).toString('latin1') === 'bplist00' ? new Uint8Array(body) : body.toString('utf8'),
    ) as Record<string, unknown>;
    const id = dict.UDID ?? dict.EnrollmentID;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Plays the devices' side of device identity for one server: each device gets its own
 * identity certificate from the server's CA the first time it sends something, and every
 * message carries it the way the server is configured to receive it.
 */
export class DeviceSigner {
  private readonly identities = new Map<string, Promise<DeviceIdentity>>();

  constructor(
    readonly ca: CertificateAuthority,
    readonly mode: 'signature' | 'header',
    readonly headerName = 'client-cert',
  ) {}

  identityFor(deviceId: string): Promise<DeviceIdentity> {
    let identity = this.identities.get(deviceId);
    if (identity === undefined) {
      identity = issueIdentity(this.ca, { commonName: deviceId, keyType: 'ec' });
      this.identities.set(deviceId, identity);
    }
    return identity;
  }

  async headers(body: Buffer, identity?: DeviceIdentity, options?: SignOptions): Promise<Record<string, string>> {
    const id = identity ?? (await this.identityFor(claimedDevice(body) ?? 'unidentified-device'));
    if (this.mode === 'header') return { [this.headerName]: `:${id.certDer.toString('base64')}:` };
    return { 'mdm-signature': await signDetached(body, id.certDer, id.key, options) };
  }
}

const signers = new Map<string, DeviceSigner>();

/** Messages sent to `baseUrl` are signed by `signer` from now on. */
export function registerSigner(baseUrl: string, signer: DeviceSigner | undefined): void {
  if (signer === undefined) signers.delete(baseUrl);
  else signers.set(baseUrl, signer);
}

export function signerFor(baseUrl: string): DeviceSigner | undefined {
  return signers.get(baseUrl);
}

/** Sends a body to the check-in endpoint as a device would (with its identity, when the server wants one). */
export async function send(baseUrl: string, body: Buffer | string, opts: SendOptions = {}): Promise<Reply> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const signer = signers.get(baseUrl);
  const identityHeaders =
    signer !== undefined && opts.sign !== false ? await signer.headers(bytes, opts.identity, opts.signOptions) : {};
  const res = await fetch(`${baseUrl}${opts.path ?? '/checkin'}`, {
    method: opts.method ?? 'PUT',
    headers: { 'content-type': 'application/x-apple-aspen-mdm-checkin', ...identityHeaders, ...opts.headers },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body: buf, text: buf.toString('utf8'), headers: res.headers };
}

/** Parses a plist response body with the `plist` package. */
export function parseReply(reply: Reply): Record<string, PlistValue> {
  return parse(reply.text) as Record<string, PlistValue>;
}

let counter = 0;
/** A UDID no other test uses, shaped like a modern iOS UDID. */
export function newUdid(): string {
  counter += 1;
  const rand = Math.floor(Math.random() * 0xffffffff)
    .toString(16)
    .toUpperCase()
    .padStart(8, '0');
  return `00008120-${rand}${counter.toString(16).toUpperCase().padStart(8, '0')}`;
}
