/**
 * A bounded look at who a check-in body claims to be, for the log line of a message whose
 * identity check failed. Such a body comes from anyone, so it is never decoded: this reads at
 * most {@link PEEK_BYTES} of an XML body, or a few dozen objects of a binary one, and keeps
 * only short string values of the identity keys. Whatever the body, the work and the memory
 * are bounded by a small constant.
 */

/** The most of an XML body that is looked at. */
export const PEEK_BYTES = 4096;
/** Longest key and value kept; a longer one is skipped. */
const MAX_KEY_LENGTH = 32;
const MAX_VALUE_LENGTH = 256;
/** Most entries of a binary top-level dictionary looked at. */
const MAX_ENTRIES = 64;

const IDENTITY_KEYS = new Set(['UDID', 'EnrollmentID', 'EnrollmentUserID', 'UserID', 'UserShortName']);

export type PeekedKeys = Partial<
  Record<'UDID' | 'EnrollmentID' | 'EnrollmentUserID' | 'UserID' | 'UserShortName', string>
>;

/** The identity keys found near the start of the top-level dictionary; {} when none are. */
export function peekIdentityKeys(body: Buffer): PeekedKeys {
  try {
    if (body.length >= 8 && body.toString('latin1', 0, 8) === 'bplist00') return peekBinary(body);
    return peekXml(body.toString('utf8', 0, Math.min(body.length, PEEK_BYTES)));
  } catch {
    // A peek is best effort: whatever it trips on, the log line just has no claim.
    return {};
  }
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function peekXml(text: string): PeekedKeys {
  const found: PeekedKeys = {};
  // Open arrays and dictionaries; the top-level dictionary's own keys are at depth 1.
  let depth = 0;
  let key: string | undefined;
  let pos = 0;
  for (;;) {
    const lt = text.indexOf('<', pos);
    if (lt < 0) return found;
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      if (end < 0) return found;
      pos = end + 3;
      continue;
    }
    const gt = text.indexOf('>', lt);
    if (gt < 0) return found;
    pos = gt + 1;
    const close = text.charCodeAt(lt + 1) === 0x2f;
    const selfClosing = text.charCodeAt(gt - 1) === 0x2f;
    const name = /^[A-Za-z]*/.exec(text.slice(close ? lt + 2 : lt + 1, Math.min(gt, lt + 12)))?.[0] ?? '';
    if (name === 'dict' || name === 'array') {
      if (!selfClosing) depth += close ? -1 : 1;
      key = undefined;
    } else if (!close && !selfClosing && depth === 1 && (name === 'key' || name === 'string')) {
      const end = text.indexOf('<', pos);
      if (end < 0) return found;
      const content = text.slice(pos, end);
      pos = end;
      if (name === 'key') {
        key = content.length <= MAX_KEY_LENGTH ? content : undefined;
        continue;
      }
      if (key !== undefined && IDENTITY_KEYS.has(key) && content.length <= MAX_VALUE_LENGTH) {
        found[key as keyof PeekedKeys] = content.replace(
          /&(lt|gt|amp|quot|apos);/g,
          (_, e: string) => ENTITIES[e] ?? '',
        );
      }
      key = undefined;
    } else if (!close && name !== 'plist') {
      key = undefined;
    }
  }
}

function peekBinary(buf: Buffer): PeekedKeys {
  const found: PeekedKeys = {};
  const t = buf.length - 32;
  if (t < 9) return found;
  const offsetSize = buf.readUInt8(t + 6);
  const refSize = buf.readUInt8(t + 7);
  if (![1, 2, 4].includes(offsetSize) || ![1, 2, 4].includes(refSize)) return found;
  // Positions past 2^32 cannot be in a body this server accepts.
  if (buf.readUInt32BE(t + 8) !== 0 || buf.readUInt32BE(t + 16) !== 0 || buf.readUInt32BE(t + 24) !== 0) return found;
  const count = buf.readUInt32BE(t + 12);
  const top = buf.readUInt32BE(t + 20);
  const tableStart = buf.readUInt32BE(t + 28);
  if (tableStart < 8 || tableStart + count * offsetSize > t) return found;

  const offsetOf = (index: number): number | undefined => {
    if (index >= count) return undefined;
    const at = buf.readUIntBE(tableStart + index * offsetSize, offsetSize);
    return at >= 8 && at < tableStart ? at : undefined;
  };
  /** The length of a variable-size object and where its content starts. */
  const lengthAt = (at: number): [number, number] | undefined => {
    const nibble = buf.readUInt8(at) & 0x0f;
    if (nibble !== 0x0f) return [nibble, at + 1];
    const intMarker = buf.readUInt8(at + 1);
    const size = 1 << (intMarker & 0x0f);
    if (intMarker >> 4 !== 0x1 || size > 4) return undefined;
    return [buf.readUIntBE(at + 2, size), at + 2 + size];
  };
  const stringAt = (index: number, max: number): string | undefined => {
    const at = offsetOf(index);
    if (at === undefined) return undefined;
    const type = buf.readUInt8(at) >> 4;
    if (type !== 0x5 && type !== 0x6) return undefined;
    const len = lengthAt(at);
    if (len === undefined || len[0] > max) return undefined;
    const [length, start] = len;
    if (type === 0x5) return start + length <= tableStart ? buf.toString('latin1', start, start + length) : undefined;
    if (start + 2 * length > tableStart) return undefined;
    const units = Buffer.from(buf.subarray(start, start + 2 * length));
    return units.swap16().toString('utf16le');
  };

  const at = offsetOf(top);
  if (at === undefined || buf.readUInt8(at) >> 4 !== 0xd) return found;
  const len = lengthAt(at);
  if (len === undefined) return found;
  const [entries, start] = len;
  if (start + 2 * entries * refSize > tableStart) return found;
  for (let i = 0; i < Math.min(entries, MAX_ENTRIES); i++) {
    const key = stringAt(buf.readUIntBE(start + i * refSize, refSize), MAX_KEY_LENGTH);
    if (key === undefined || !IDENTITY_KEYS.has(key)) continue;
    const value = stringAt(buf.readUIntBE(start + (entries + i) * refSize, refSize), MAX_VALUE_LENGTH);
    if (value !== undefined) found[key as keyof PeekedKeys] = value;
  }
  return found;
}
