import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, buildBinary, parse } from 'plist';
import type { PlistValue } from 'plist';

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
}

/** Sends a body to the check-in endpoint as a device would. */
export async function send(baseUrl: string, body: Buffer | string, opts: SendOptions = {}): Promise<Reply> {
  const res = await fetch(`${baseUrl}${opts.path ?? '/checkin'}`, {
    method: opts.method ?? 'PUT',
    headers: { 'content-type': 'application/x-apple-aspen-mdm-checkin', ...opts.headers },
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
