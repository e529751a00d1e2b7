/**
 * A cheap walk over BER/DER bytes before any ASN.1 library sees them: it refuses input whose
 * structure is deeper or has more elements than a device's CMS signature ever needs, so a
 * crafted header cannot make the real decoder recurse or allocate without bound. It reads
 * tags and lengths only (definite and indefinite), never values.
 */
export interface BerLimits {
  readonly maxDepth: number;
  readonly maxElements: number;
}

export const CMS_BER_LIMITS: BerLimits = { maxDepth: 24, maxElements: 4096 };

export class BerLimitError extends Error {}

export function checkBerLimits(buf: Uint8Array, limits: BerLimits = CMS_BER_LIMITS): void {
  let elements = 0;

  /** One element at `pos`; returns the position after it. */
  const element = (at: number, limit: number, depth: number): number => {
    if (depth > limits.maxDepth) throw new BerLimitError(`nested deeper than ${limits.maxDepth}`);
    if (++elements > limits.maxElements) throw new BerLimitError(`more than ${limits.maxElements} elements`);
    let pos = at;
    const tag = buf[pos++] ?? 0;
    const constructed = (tag & 0x20) !== 0;
    if ((tag & 0x1f) === 0x1f) {
      // High tag number: base-128 continuation bytes.
      let n = 0;
      while (pos < limit && ((buf[pos] ?? 0) & 0x80) !== 0) {
        if (++n > 4) throw new BerLimitError('tag too long');
        pos++;
      }
      pos++;
    }
    if (pos >= limit) throw new BerLimitError('truncated');
    const first = buf[pos++] ?? 0;
    if (first === 0x80) {
      if (!constructed) throw new BerLimitError('indefinite length on a primitive element');
      // Children until an end-of-contents marker (00 00).
      for (;;) {
        if (pos + 2 > limit) throw new BerLimitError('missing end-of-contents');
        if (buf[pos] === 0 && buf[pos + 1] === 0) return pos + 2;
        pos = element(pos, limit, depth + 1);
      }
    }
    let length = first;
    if ((first & 0x80) !== 0) {
      const bytes = first & 0x7f;
      if (bytes > 4) throw new BerLimitError('length too large');
      length = 0;
      for (let i = 0; i < bytes; i++) length = length * 256 + (buf[pos++] ?? 0);
    }
    const end = pos + length;
    if (end > limit) throw new BerLimitError('element runs past its container');
    if (constructed) {
      while (pos < end) pos = element(pos, end, depth + 1);
    }
    return end;
  };

  if (buf.length < 2) throw new BerLimitError('truncated');
  const after = element(0, buf.length, 0);
  if (after !== buf.length) throw new BerLimitError('bytes after the structure');
}
