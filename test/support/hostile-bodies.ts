/**
 * Check-in bodies built to make a plist decoder spend memory or time out of proportion to
 * their size (issue 9 §1). Shared by the decoder's unit specs and the end-to-end specs.
 */

const XML_PROLOG =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n';

/** An XML plist document around `inner`. */
export function xmlDocument(inner: string): Buffer {
  return Buffer.from(`${XML_PROLOG}<plist version="1.0">${inner}</plist>`, 'utf8');
}

function escapeXml(s: string): string {
  return s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] ?? c);
}

/**
 * A dictionary that claims `identity` (a few string keys, first) and then carries `junk`
 * as the value of the key `Junk`: the claim is readable within the first few hundred bytes.
 */
export function xmlClaiming(identity: Record<string, string>, junk: string): Buffer {
  const keys = Object.entries(identity)
    .map(([k, v]) => `<key>${escapeXml(k)}</key><string>${escapeXml(v)}</string>`)
    .join('');
  return xmlDocument(`<dict>${keys}<key>Junk</key>${junk}</dict>`);
}

/** `<real>` with `digits` digits and a stray character: O(n²) for a backtracking regex. */
export function realBomb(digits: number, identity: Record<string, string> = {}): Buffer {
  return xmlClaiming(identity, `<real>${'1'.repeat(digits)}x</real>`);
}

// ---------------------------------------------------------------------------------------
// Binary plists

function bplistLength(marker: number, length: number): Buffer {
  if (length < 15) return Buffer.from([marker | length]);
  const out = Buffer.alloc(6);
  out.writeUInt8(marker | 0x0f, 0);
  out.writeUInt8(0x12, 1); // a 4-byte int follows
  out.writeUInt32BE(length, 2);
  return out;
}

function asciiObject(s: string): Buffer {
  return Buffer.concat([bplistLength(0x50, s.length), Buffer.from(s, 'latin1')]);
}

/** Assembles objects (each already encoded, references 1 byte wide) into a bplist00 body. */
function assemble(objects: Buffer[], top = 0): Buffer {
  if (objects.length > 255) throw new Error('this writer uses 1-byte references');
  const offsets: number[] = [];
  let pos = 8;
  for (const o of objects) {
    offsets.push(pos);
    pos += o.length;
  }
  const table = Buffer.alloc(objects.length * 4);
  offsets.forEach((off, i) => table.writeUInt32BE(off, i * 4));
  const trailer = Buffer.alloc(32);
  trailer.writeUInt8(4, 6);
  trailer.writeUInt8(1, 7);
  trailer.writeBigUInt64BE(BigInt(objects.length), 8);
  trailer.writeBigUInt64BE(BigInt(top), 16);
  trailer.writeBigUInt64BE(BigInt(pos), 24);
  return Buffer.concat([Buffer.from('bplist00', 'latin1'), ...objects, table, trailer]);
}

export interface SharedBombOptions {
  /** How many times the array points at the shared object (99,000 in the issue). */
  readonly refs?: number;
  /** Size of the shared object (45 KB in the issue). */
  readonly bytes?: number;
  /** 'string' (what the issue sent) or 'data'. */
  readonly kind?: 'string' | 'data';
  /** String keys put first in the top dictionary; with none the top object is the array itself. */
  readonly identity?: Record<string, string>;
}

/**
 * The crash of issue 9: an array whose `refs` members all point at one `bytes`-long
 * object. About `refs + bytes` bytes on the wire; `refs × bytes` if every reference is
 * decoded into its own copy (99,000 × 45 KB ≈ 4.5 GB for the 144 KB body of the issue).
 */
export function sharedObjectBomb(opts: SharedBombOptions = {}): Buffer {
  const refs = opts.refs ?? 99_000;
  const bytes = opts.bytes ?? 45_000;
  const entries = Object.entries(opts.identity ?? {});
  const objects: Buffer[] = [];
  // Layout: [top dict] keys/values..., 'Junk', array, shared object.
  const dictEntries = entries.length + 1;
  const first = entries.length > 0 ? 1 : 0;
  const keyRefs: number[] = [];
  const valueRefs: number[] = [];
  const body: Buffer[] = [];
  for (const [k, v] of entries) {
    keyRefs.push(first + body.length);
    body.push(asciiObject(k));
    valueRefs.push(first + body.length);
    body.push(asciiObject(v));
  }
  if (entries.length > 0) {
    keyRefs.push(first + body.length);
    body.push(asciiObject('Junk'));
  }
  const arrayRef = first + body.length;
  const sharedRef = arrayRef + 1;
  valueRefs.push(arrayRef);
  body.push(Buffer.concat([bplistLength(0xa0, refs), Buffer.alloc(refs, sharedRef)]));
  body.push(
    opts.kind === 'data'
      ? Buffer.concat([bplistLength(0x40, bytes), Buffer.alloc(bytes, 0xab)])
      : Buffer.concat([bplistLength(0x50, bytes), Buffer.alloc(bytes, 0x41)]),
  );
  if (entries.length > 0) objects.push(Buffer.from([0xd0 | dictEntries, ...keyRefs, ...valueRefs]));
  objects.push(...body);
  return assemble(objects);
}
