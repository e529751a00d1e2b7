/**
 * A minimal reader of BER/DER elements for the few CMS and X.509 fields the signature check
 * needs. It builds no object model and copies no bytes: an element is its identifier octet and
 * offsets into the caller's buffer. It accepts definite and indefinite lengths (devices send
 * indefinite ones). It is meant for input that already passed {@link checkBerLimits}, which
 * bounds depth and element count; it still checks every offset, so malformed input can only
 * make it throw {@link BerReadError}, never read outside the buffer.
 */
export class BerReadError extends Error {}

export interface BerElement {
  /** The identifier octet; -1 for a high tag number (> 30), which no field read here uses. */
  readonly tag: number;
  readonly constructed: boolean;
  /** The element's first byte (its identifier). */
  readonly at: number;
  /** The first content byte. */
  readonly start: number;
  /** The byte after the contents (for an indefinite length: where the end-of-contents marker is). */
  readonly end: number;
  /** The byte after the whole element, end-of-contents marker included. */
  readonly next: number;
}

export const TAG = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  OCTET_STRING_CONSTRUCTED: 0x24,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
  BIT_STRING: 0x03,
} as const;

const fail = (why: string): never => {
  throw new BerReadError(why);
};

/** The element starting at `at`, which must end by `limit`. */
export function readElement(buf: Uint8Array, at: number, limit: number): BerElement {
  if (at + 2 > limit) fail('truncated');
  let pos = at;
  const id = buf[pos++] as number;
  let tag = id;
  if ((id & 0x1f) === 0x1f) {
    tag = -1;
    let n = 0;
    while (pos < limit && ((buf[pos] as number) & 0x80) !== 0) {
      if (++n > 4) fail('tag too long');
      pos++;
    }
    pos++;
  }
  if (pos >= limit) fail('truncated');
  const constructed = (id & 0x20) !== 0;
  const first = buf[pos++] as number;
  if (first === 0x80) {
    if (!constructed) fail('indefinite length on a primitive element');
    let child = pos;
    for (;;) {
      if (child + 2 > limit) fail('missing end-of-contents');
      if (buf[child] === 0 && buf[child + 1] === 0)
        return { tag, constructed, at, start: pos, end: child, next: child + 2 };
      child = readElement(buf, child, limit).next;
    }
  }
  let length = first;
  if ((first & 0x80) !== 0) {
    const bytes = first & 0x7f;
    if (bytes > 4) fail('length too large');
    if (pos + bytes > limit) fail('truncated');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (buf[pos++] as number);
  }
  const end = pos + length;
  if (end > limit) fail('element runs past its container');
  return { tag, constructed, at, start: pos, end, next: end };
}

/** The elements inside a constructed element. */
export function childrenOf(buf: Uint8Array, parent: BerElement): BerElement[] {
  if (!parent.constructed) fail('not a constructed element');
  const out: BerElement[] = [];
  for (let pos = parent.start; pos < parent.end;) {
    const child = readElement(buf, pos, parent.end);
    out.push(child);
    pos = child.next;
  }
  return out;
}

/** Whether `el` is the context-specific tag [n], primitive or constructed. */
export function isContextTag(el: BerElement | undefined, n: number): boolean {
  return el !== undefined && el.tag !== -1 && (el.tag & 0xdf) === (0x80 | n);
}

/** The contents of a primitive element (a view, not a copy). */
export function contentOf(buf: Buffer, el: BerElement): Buffer {
  return buf.subarray(el.start, el.end);
}

/** The exact bytes of an element, header included (a view, not a copy). */
export function bytesOf(buf: Buffer, el: BerElement): Buffer {
  return buf.subarray(el.at, el.next);
}

/**
 * The value of an OCTET STRING: the contents of the primitive form, or the segments of the
 * constructed form (BER) joined.
 */
export function octetStringOf(buf: Buffer, el: BerElement): Buffer | undefined {
  if (el.tag === TAG.OCTET_STRING) return contentOf(buf, el);
  if (el.tag !== TAG.OCTET_STRING_CONSTRUCTED) return undefined;
  const parts: Buffer[] = [];
  for (const segment of childrenOf(buf, el)) {
    const part = octetStringOf(buf, segment);
    if (part === undefined) return undefined;
    parts.push(part);
  }
  return Buffer.concat(parts);
}

/** An OBJECT IDENTIFIER in dotted form, or undefined when `el` is not a well-formed one. */
export function oidOf(buf: Uint8Array, el: BerElement | undefined): string | undefined {
  if (el?.tag !== TAG.OID || el.end === el.start) return undefined;
  const arcs: number[] = [];
  let value = 0;
  for (let i = el.start; i < el.end; i++) {
    const b = buf[i] as number;
    if (value === 0 && b === 0x80) return undefined; // a non-minimal arc
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) return undefined;
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  if (((buf[el.end - 1] as number) & 0x80) !== 0) return undefined; // the last arc is unfinished
  return arcs.join('.');
}
