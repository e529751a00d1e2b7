/**
 * A strict, bounded decoder for the property lists devices send: XML (`<plist version="1.0">`)
 * and binary (`bplist00`).
 *
 * Why not a general XML parser: a check-in body is untrusted input that arrives thousands of
 * times a second. This decoder accepts only the plist grammar, never expands DTD entities,
 * refuses a DOCTYPE internal subset, bounds nesting depth and the total number of values
 * (a binary plist can reference one array from many places, which would otherwise expand
 * exponentially), rejects `__proto__` keys, and reports every problem as a
 * {@link PlistDecodeError} instead of logging to the console.
 */

export type PlistValue = string | number | bigint | boolean | Date | Buffer | PlistValue[] | PlistDict;
export interface PlistDict {
  [key: string]: PlistValue;
}

export class PlistDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlistDecodeError';
  }
}

export interface PlistLimits {
  /** Deepest nesting of arrays and dictionaries. */
  readonly maxDepth: number;
  /** Total values decoded, counting each time a shared binary object is reached again. */
  readonly maxValues: number;
}

export const DEFAULT_PLIST_LIMITS: PlistLimits = { maxDepth: 32, maxValues: 100_000 };

const BINARY_MAGIC = 'bplist00';

/** Decodes an XML or binary plist. Throws {@link PlistDecodeError} on anything else. */
export function decodePlist(body: Buffer, limits: PlistLimits = DEFAULT_PLIST_LIMITS): PlistValue {
  if (body.length >= 8 && body.toString('latin1', 0, 8) === BINARY_MAGIC) {
    return new BinaryPlistReader(body, limits).read();
  }
  return new XmlPlistReader(body.toString('utf8'), limits).read();
}

export function isPlistDict(value: PlistValue): value is PlistDict {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !Buffer.isBuffer(value) &&
    !(value instanceof Date)
  );
}

function newDict(): PlistDict {
  // No prototype: keys from the device can never reach Object.prototype.
  return Object.create(null) as PlistDict;
}

/** An integer as a number when that is exact, else as a bigint. */
function safeNumber(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function checkKey(key: string): void {
  if (key === '__proto__') throw new PlistDecodeError('the key "__proto__" is not allowed');
}

// ---------------------------------------------------------------------------------------
// XML

const XML_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const INTEGER_RE = /^[+-]?(?:0x[0-9a-fA-F]+|\d+)$/;
const REAL_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:inf|infinity|nan)$/i;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z$/;

class XmlPlistReader {
  private pos = 0;
  private values = 0;

  constructor(
    private readonly src: string,
    private readonly limits: PlistLimits,
  ) {}

  read(): PlistValue {
    if (this.src.charCodeAt(0) === 0xfeff) this.pos = 1;
    this.skipProlog();
    const open = this.readTag();
    if (open.close || open.name !== 'plist') {
      throw this.error('the document must start with <plist>');
    }
    if (open.selfClosing) throw this.error('<plist> holds no value');
    this.skipMisc();
    const value = this.readValue(0);
    this.skipMisc();
    this.expectClose('plist');
    this.skipMisc();
    if (this.pos !== this.src.length) throw this.error('content after </plist>');
    return value;
  }

  private error(message: string): PlistDecodeError {
    return new PlistDecodeError(`XML plist: ${message} (at offset ${this.pos})`);
  }

  private skipWhitespace(): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  /** Whitespace, comments and processing instructions between elements. */
  private skipMisc(): void {
    for (;;) {
      this.skipWhitespace();
      if (this.src.startsWith('<!--', this.pos)) {
        const end = this.src.indexOf('-->', this.pos + 4);
        if (end < 0) throw this.error('unterminated comment');
        this.pos = end + 3;
      } else if (this.src.startsWith('<?', this.pos)) {
        const end = this.src.indexOf('?>', this.pos + 2);
        if (end < 0) throw this.error('unterminated processing instruction');
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  private skipProlog(): void {
    this.skipMisc();
    if (this.src.startsWith('<!DOCTYPE', this.pos)) {
      const end = this.src.indexOf('>', this.pos);
      if (end < 0) throw this.error('unterminated DOCTYPE');
      // An internal subset ([...]) is where entity definitions live; plists never need one.
      if (this.src.slice(this.pos, end).includes('[')) {
        throw this.error('a DOCTYPE internal subset is not allowed');
      }
      this.pos = end + 1;
      this.skipMisc();
    }
  }

  private readTag(): { name: string; close: boolean; selfClosing: boolean } {
    const s = this.src;
    if (s.charCodeAt(this.pos) !== 0x3c /* < */) throw this.error('expected an element');
    const end = s.indexOf('>', this.pos);
    if (end < 0) throw this.error('unterminated tag');
    let inner = s.slice(this.pos + 1, end);
    this.pos = end + 1;
    const close = inner.startsWith('/');
    if (close) inner = inner.slice(1);
    const selfClosing = inner.endsWith('/');
    if (selfClosing) inner = inner.slice(0, -1);
    const m = /^([A-Za-z]+)(\s[^<>]*)?$/.exec(inner.trimEnd());
    if (m === null || m[1] === undefined) throw this.error(`malformed tag <${inner.slice(0, 40)}>`);
    if (close && (selfClosing || m[2] !== undefined)) throw this.error('malformed closing tag');
    return { name: m[1], close, selfClosing };
  }

  private expectClose(name: string): void {
    const tag = this.readTag();
    if (!tag.close || tag.name !== name) throw this.error(`expected </${name}>`);
  }

  /** Text content up to the closing tag, with entities and CDATA resolved. */
  private readText(name: string): string {
    const s = this.src;
    let out = '';
    for (;;) {
      const lt = s.indexOf('<', this.pos);
      if (lt < 0) throw this.error(`unterminated <${name}>`);
      out += this.decodeEntities(s.slice(this.pos, lt));
      this.pos = lt;
      if (s.startsWith('<![CDATA[', lt)) {
        const end = s.indexOf(']]>', lt + 9);
        if (end < 0) throw this.error('unterminated CDATA');
        out += s.slice(lt + 9, end);
        this.pos = end + 3;
      } else if (s.startsWith('<!--', lt)) {
        const end = s.indexOf('-->', lt + 4);
        if (end < 0) throw this.error('unterminated comment');
        this.pos = end + 3;
      } else {
        this.expectClose(name);
        return out;
      }
    }
  }

  private decodeEntities(text: string): string {
    if (!text.includes('&')) return text;
    return text.replace(/&([^;&\s]{0,10});?/g, (whole, ref: string) => {
      if (!whole.endsWith(';')) throw this.error('bare "&" in text');
      if (ref.startsWith('#')) {
        // The whole reference must be digits: parseInt alone would read "&#12abc;" as "&#12;".
        const code = /^#[xX][0-9a-fA-F]+$/.test(ref)
          ? parseInt(ref.slice(2), 16)
          : /^#[0-9]+$/.test(ref)
            ? parseInt(ref.slice(1), 10)
            : NaN;
        if (!Number.isInteger(code) || code < 0 || code > 0x10ffff)
          throw this.error(`bad character reference &${ref};`);
        return String.fromCodePoint(code);
      }
      const ch = XML_ENTITIES[ref];
      if (ch === undefined) throw this.error(`unknown entity &${ref};`);
      return ch;
    });
  }

  private count(): void {
    if (++this.values > this.limits.maxValues) throw this.error('too many values');
  }

  private readValue(depth: number): PlistValue {
    this.count();
    const tag = this.readTag();
    if (tag.close) throw this.error(`unexpected </${tag.name}>`);
    const { name } = tag;
    if (tag.selfClosing) {
      switch (name) {
        case 'true':
          return true;
        case 'false':
          return false;
        case 'string':
          return '';
        case 'data':
          return Buffer.alloc(0);
        // An empty container is still a level of nesting, as <array></array> is.
        case 'dict':
          this.checkDepth(depth + 1);
          return newDict();
        case 'array':
          this.checkDepth(depth + 1);
          return [];
        default:
          throw this.error(`<${name}/> holds no value`);
      }
    }
    switch (name) {
      case 'string':
        return this.readText(name);
      case 'true':
      case 'false':
        this.skipWhitespace();
        this.expectClose(name);
        return name === 'true';
      case 'data': {
        const b64 = this.readText(name).replace(/\s+/g, '');
        if (!BASE64_RE.test(b64)) throw this.error('<data> is not base64');
        return Buffer.from(b64, 'base64');
      }
      case 'integer': {
        const text = this.readText(name).trim();
        if (!INTEGER_RE.test(text)) throw this.error(`<integer> "${text.slice(0, 20)}" is not an integer`);
        const negative = text.startsWith('-');
        const digits = text.replace(/^[+-]/, '');
        return safeNumber(BigInt(digits) * (negative ? -1n : 1n));
      }
      case 'real': {
        const text = this.readText(name).trim();
        if (!REAL_RE.test(text)) throw this.error(`<real> "${text.slice(0, 20)}" is not a number`);
        const lower = text.toLowerCase().replace(/^\+/, '');
        if (lower.endsWith('nan')) return NaN;
        if (lower.endsWith('inf') || lower.endsWith('infinity')) return lower.startsWith('-') ? -Infinity : Infinity;
        return Number(text);
      }
      case 'date': {
        const text = this.readText(name).trim();
        if (!DATE_RE.test(text)) throw this.error(`<date> "${text.slice(0, 30)}" is not an ISO 8601 UTC date`);
        const date = new Date(text);
        if (Number.isNaN(date.getTime())) throw this.error('<date> is out of range');
        return date;
      }
      case 'array':
        return this.readArray(depth + 1);
      case 'dict':
        return this.readDict(depth + 1);
      default:
        throw this.error(`unknown element <${name}>`);
    }
  }

  private checkDepth(depth: number): void {
    if (depth > this.limits.maxDepth) throw this.error(`nesting deeper than ${this.limits.maxDepth}`);
  }

  private atClose(name: string): boolean {
    this.skipMisc();
    if (this.src.startsWith(`</${name}`, this.pos)) {
      this.expectClose(name);
      return true;
    }
    return false;
  }

  private readArray(depth: number): PlistValue[] {
    this.checkDepth(depth);
    const out: PlistValue[] = [];
    while (!this.atClose('array')) out.push(this.readValue(depth));
    return out;
  }

  private readDict(depth: number): PlistDict {
    this.checkDepth(depth);
    const out = newDict();
    while (!this.atClose('dict')) {
      const tag = this.readTag();
      if (tag.close || tag.name !== 'key') throw this.error('expected <key> in <dict>');
      const key = tag.selfClosing ? '' : this.readText('key');
      checkKey(key);
      if (key in out) throw this.error(`duplicate key "${key.slice(0, 40)}"`);
      this.skipMisc();
      if (this.src.startsWith('</dict', this.pos)) throw this.error(`key "${key.slice(0, 40)}" has no value`);
      out[key] = this.readValue(depth);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------
// Binary (bplist00): header, objects, offset table, 32-byte trailer.

const EPOCH_2001_MS = 978_307_200_000;

class BinaryPlistReader {
  private readonly offsets: number[] = [];
  private readonly refSize: number;
  private readonly top: number;
  private values = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly limits: PlistLimits,
  ) {
    if (buf.length < 8 + 32 + 1) throw this.error('too short');
    const t = buf.length - 32;
    const offsetSize = buf.readUInt8(t + 6);
    this.refSize = buf.readUInt8(t + 7);
    const count = this.uint(t + 8, 8);
    this.top = this.uint(t + 16, 8);
    const tableStart = this.uint(t + 24, 8);
    if (![1, 2, 4, 8].includes(offsetSize) || ![1, 2, 4, 8].includes(this.refSize)) {
      throw this.error('bad trailer sizes');
    }
    if (count < 1 || tableStart < 8 || tableStart + count * offsetSize > t) {
      throw this.error('offset table out of range');
    }
    if (this.top >= count) throw this.error('top object out of range');
    for (let i = 0; i < count; i++) {
      const off = this.uint(tableStart + i * offsetSize, offsetSize);
      if (off < 8 || off >= tableStart) throw this.error('object offset out of range');
      this.offsets.push(off);
    }
  }

  read(): PlistValue {
    return this.object(this.top, 0, new Set());
  }

  private error(message: string): PlistDecodeError {
    return new PlistDecodeError(`binary plist: ${message}`);
  }

  private uint(at: number, size: number): number {
    if (at < 0 || at + size > this.buf.length) throw this.error('read past the end');
    switch (size) {
      case 1:
        return this.buf.readUInt8(at);
      case 2:
        return this.buf.readUInt16BE(at);
      case 4:
        return this.buf.readUInt32BE(at);
      case 8: {
        const v = this.buf.readBigUInt64BE(at);
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.error('value too large');
        return Number(v);
      }
      default:
        throw this.error(`bad integer size ${size}`);
    }
  }

  /** Length of a variable-size object: the low nibble, or an int object after the marker. */
  private length(marker: number, at: number): { length: number; start: number } {
    const nibble = marker & 0x0f;
    if (nibble !== 0x0f) return { length: nibble, start: at + 1 };
    const intMarker = this.uint(at + 1, 1);
    if (intMarker >> 4 !== 0x1) throw this.error('bad length marker');
    const size = 1 << (intMarker & 0x0f);
    return { length: this.uint(at + 2, size), start: at + 2 + size };
  }

  private span(start: number, bytes: number): void {
    if (bytes < 0 || start + bytes > this.buf.length - 32) throw this.error('object runs past the end');
  }

  private object(index: number, depth: number, path: Set<number>): PlistValue {
    if (++this.values > this.limits.maxValues) throw this.error('too many values');
    const at = this.offsets[index];
    if (at === undefined) throw this.error('object reference out of range');
    const marker = this.uint(at, 1);
    const type = marker >> 4;
    switch (type) {
      case 0x0:
        if (marker === 0x08) return false;
        if (marker === 0x09) return true;
        throw this.error(`unsupported singleton 0x${marker.toString(16)}`);
      case 0x1: {
        const size = 1 << (marker & 0x0f);
        this.span(at + 1, size);
        if (size === 8) return safeNumber(this.buf.readBigInt64BE(at + 1));
        // 128-bit signed; CoreFoundation writes unsigned 64-bit values above INT64_MAX this way.
        if (size === 16) {
          return safeNumber((this.buf.readBigInt64BE(at + 1) << 64n) + this.buf.readBigUInt64BE(at + 9));
        }
        return this.uint(at + 1, size);
      }
      case 0x2: {
        const size = 1 << (marker & 0x0f);
        this.span(at + 1, size);
        if (size === 4) return this.buf.readFloatBE(at + 1);
        if (size === 8) return this.buf.readDoubleBE(at + 1);
        throw this.error('bad real size');
      }
      case 0x3: {
        if (marker !== 0x33) throw this.error('bad date marker');
        this.span(at + 1, 8);
        const date = new Date(EPOCH_2001_MS + this.buf.readDoubleBE(at + 1) * 1000);
        if (Number.isNaN(date.getTime())) throw this.error('date is out of range');
        return date;
      }
      case 0x4: {
        const { length, start } = this.length(marker, at);
        this.span(start, length);
        return Buffer.from(this.buf.subarray(start, start + length));
      }
      case 0x5: {
        const { length, start } = this.length(marker, at);
        this.span(start, length);
        return this.buf.toString('latin1', start, start + length);
      }
      case 0x6: {
        const { length, start } = this.length(marker, at);
        this.span(start, length * 2);
        const units = Buffer.from(this.buf.subarray(start, start + length * 2));
        units.swap16();
        return units.toString('utf16le');
      }
      case 0xa:
        return this.container(index, depth, path, () => {
          const { length, start } = this.length(marker, at);
          this.span(start, length * this.refSize);
          const out: PlistValue[] = [];
          for (let i = 0; i < length; i++) {
            out.push(this.object(this.uint(start + i * this.refSize, this.refSize), depth + 1, path));
          }
          return out;
        });
      case 0xd:
        return this.container(index, depth, path, () => {
          const { length, start } = this.length(marker, at);
          this.span(start, length * 2 * this.refSize);
          const out = newDict();
          for (let i = 0; i < length; i++) {
            const key = this.object(this.uint(start + i * this.refSize, this.refSize), depth + 1, path);
            if (typeof key !== 'string') throw this.error('dictionary key is not a string');
            checkKey(key);
            if (key in out) throw this.error(`duplicate key "${key.slice(0, 40)}"`);
            const valueRef = this.uint(start + (length + i) * this.refSize, this.refSize);
            out[key] = this.object(valueRef, depth + 1, path);
          }
          return out;
        });
      default:
        throw this.error(`unsupported object type 0x${type.toString(16)}`);
    }
  }

  private container<T>(index: number, depth: number, path: Set<number>, build: () => T): T {
    if (depth + 1 > this.limits.maxDepth) throw this.error(`nesting deeper than ${this.limits.maxDepth}`);
    if (path.has(index)) throw this.error('an object contains itself');
    path.add(index);
    try {
      return build();
    } finally {
      path.delete(index);
    }
  }
}
