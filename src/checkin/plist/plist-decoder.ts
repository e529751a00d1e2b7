/**
 * A strict, bounded decoder for the property lists devices send: XML (`<plist version="1.0">`)
 * and binary (`bplist00`).
 *
 * Why not a general XML parser: a check-in body is untrusted input that arrives thousands of
 * times a second. This decoder accepts only the plist grammar, never expands DTD entities,
 * refuses a DOCTYPE internal subset, bounds nesting depth and the total number of values,
 * rejects `__proto__` keys, and reports every problem as a {@link PlistDecodeError} instead of
 * logging to the console.
 *
 * Cost is linear in the body: the XML reader is a hand-written scanner that looks at each
 * character a bounded number of times (no backtracking regular expression ever sees more than
 * a few characters), and the binary reader decodes a string shared by many references once.
 * Both keep an estimate of the memory they produce and refuse a body whose decoded form would
 * outgrow it by more than {@link PlistLimits.maxExpansion}.
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
  /**
   * Estimated bytes of decoded values allowed per body byte (on top of a small allowance
   * every body gets). A binary plist can point at one object from many places; this is what
   * keeps such a body from decoding into far more memory than it took to send. Default 8.
   */
  readonly maxExpansion?: number;
}

export const DEFAULT_PLIST_LIMITS: PlistLimits = { maxDepth: 32, maxValues: 100_000, maxExpansion: 8 };

/** What a decode cost; pass one to {@link decodePlist} to read it (tests and benchmarks do). */
export interface PlistDecodeStats {
  /** Characters or bytes the reader examined, plus one per value: proportional to CPU time. */
  work: number;
  /** Estimated bytes of the decoded values. */
  decodedBytes: number;
}

const BINARY_MAGIC = 'bplist00';
/** Every body may decode into this much whatever its size, so tiny bodies are never refused for it. */
const EXPANSION_ALLOWANCE = 16 * 1024;

// Estimated costs of decoded values, in bytes: rough V8 sizes, erring high.
const SLOT_COST = 8;
const CONTAINER_COST = 32;
const BOXED_COST = 32;
const TOO_LARGE = 'the decoded values would be too large for the body size';

/** Decodes an XML or binary plist. Throws {@link PlistDecodeError} on anything else. */
export function decodePlist(
  body: Buffer,
  limits: PlistLimits = DEFAULT_PLIST_LIMITS,
  stats?: PlistDecodeStats,
): PlistValue {
  const budget = (limits.maxExpansion ?? 8) * body.length + EXPANSION_ALLOWANCE;
  const meter = new Meter(limits.maxValues, budget, stats);
  try {
    if (body.length >= 8 && body.toString('latin1', 0, 8) === BINARY_MAGIC) {
      return new BinaryPlistReader(body, limits, meter).read();
    }
    return new XmlPlistReader(body.toString('utf8'), limits, meter).read();
  } finally {
    if (stats !== undefined) {
      stats.work = meter.work;
      stats.decodedBytes = meter.decodedBytes;
    }
  }
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

/** Counts values, work and decoded bytes, and stops a decode that passes its limits. */
class Meter {
  work = 0;
  decodedBytes = 0;
  private values = 0;

  constructor(
    private readonly maxValues: number,
    private readonly budget: number,
    stats: PlistDecodeStats | undefined,
  ) {
    if (stats !== undefined) {
      stats.work = 0;
      stats.decodedBytes = 0;
    }
  }

  /** One more value, taking a slot in its container; false when there are too many. */
  value(): boolean {
    this.work++;
    this.decodedBytes += SLOT_COST;
    return ++this.values <= this.maxValues;
  }

  /** Whether the decoded values have outgrown the budget. */
  over(): boolean {
    return this.decodedBytes > this.budget;
  }

  /** Bytes of decoded output; false when over the budget. */
  spend(bytes: number): boolean {
    this.decodedBytes += bytes;
    return this.decodedBytes <= this.budget;
  }
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

const LT = 0x3c;
const SLASH = 0x2f;
const AMP = 0x26;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const PLUS = 0x2b;
const MINUS = 0x2d;
const DOT = 0x2e;

/** Whitespace between XML tokens. */
function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** ASCII whitespace, which may wrap base64 inside <data>. */
function isAsciiSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isBase64(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === PLUS || c === SLASH;
}

/** Index of the first character of `s` at or after `from` that is not a digit. */
function skipDigits(s: string, from: number): number {
  let i = from;
  while (i < s.length && isDigit(s.charCodeAt(i))) i++;
  return i;
}

const INT128_MIN = -(1n << 127n);
const UINT128_MAX = (1n << 128n) - 1n;

interface Tag {
  readonly name: string;
  readonly close: boolean;
  readonly selfClosing: boolean;
}

class XmlPlistReader {
  private pos = 0;

  constructor(
    private readonly src: string,
    private readonly limits: PlistLimits,
    private readonly meter: Meter,
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

  /**
   * `indexOf`, charged with the characters it passes. Every call starts where the previous
   * token ended and its result is consumed, so the total stays linear.
   */
  private find(needle: string, from: number): number {
    const at = this.src.indexOf(needle, from);
    this.meter.work += (at < 0 ? this.src.length : at) - from + needle.length;
    return at;
  }

  private skipWhitespace(): void {
    const s = this.src;
    const start = this.pos;
    while (this.pos < s.length && isXmlSpace(s.charCodeAt(this.pos))) this.pos++;
    this.meter.work += this.pos - start;
  }

  /** Whitespace, comments and processing instructions between elements. */
  private skipMisc(): void {
    for (;;) {
      this.skipWhitespace();
      if (this.src.startsWith('<!--', this.pos)) {
        const end = this.find('-->', this.pos + 4);
        if (end < 0) throw this.error('unterminated comment');
        this.pos = end + 3;
      } else if (this.src.startsWith('<?', this.pos)) {
        const end = this.find('?>', this.pos + 2);
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
      const end = this.find('>', this.pos);
      if (end < 0) throw this.error('unterminated DOCTYPE');
      // An internal subset ([...]) is where entity definitions live; plists never need one.
      for (let i = this.pos; i < end; i++) {
        if (this.src.charCodeAt(i) === 0x5b /* [ */) throw this.error('a DOCTYPE internal subset is not allowed');
      }
      this.meter.work += end - this.pos;
      this.pos = end + 1;
      this.skipMisc();
    }
  }

  /** `<name attributes?>`, `<name/>` or `</name>`; attributes are allowed and ignored. */
  private readTag(): Tag {
    const s = this.src;
    const start = this.pos;
    if (s.charCodeAt(start) !== LT) throw this.error('expected an element');
    const end = this.find('>', start);
    if (end < 0) throw this.error('unterminated tag');
    let p = start + 1;
    const close = s.charCodeAt(p) === SLASH;
    if (close) p++;
    const nameStart = p;
    while (p < end && isLetter(s.charCodeAt(p))) p++;
    const name = s.slice(nameStart, p);
    let restEnd = end;
    const selfClosing = restEnd > p && s.charCodeAt(restEnd - 1) === SLASH;
    if (selfClosing) restEnd--;
    // After the name: nothing, or whitespace and then attributes, which hold no '<'.
    let attributes = false;
    let stray = false;
    for (let i = p; i < restEnd; i++) {
      const c = s.charCodeAt(i);
      if (c === LT) stray = true;
      else if (!isXmlSpace(c)) attributes = true;
    }
    this.meter.work += restEnd - p;
    this.pos = end + 1;
    if (name === '' || stray || (p < restEnd && !isXmlSpace(s.charCodeAt(p)))) {
      throw this.error(`malformed tag <${s.slice(start + 1, Math.min(end, start + 41))}>`);
    }
    if (close && (selfClosing || attributes)) throw this.error('malformed closing tag');
    return { name, close, selfClosing };
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
      const lt = this.find('<', this.pos);
      if (lt < 0) throw this.error(`unterminated <${name}>`);
      if (lt > this.pos) out += this.decodeEntities(s.slice(this.pos, lt));
      this.pos = lt;
      if (s.startsWith('<![CDATA[', lt)) {
        const end = this.find(']]>', lt + 9);
        if (end < 0) throw this.error('unterminated CDATA');
        out += s.slice(lt + 9, end);
        this.pos = end + 3;
      } else if (s.startsWith('<!--', lt)) {
        const end = this.find('-->', lt + 4);
        if (end < 0) throw this.error('unterminated comment');
        this.pos = end + 3;
      } else {
        this.expectClose(name);
        return out;
      }
    }
  }

  /** Resolves the five predefined entities and character references; refuses anything else. */
  private decodeEntities(text: string): string {
    let amp = text.indexOf('&');
    this.meter.work += text.length;
    if (amp < 0) return text;
    let out = '';
    let done = 0;
    while (amp >= 0) {
      out += text.slice(done, amp);
      // A reference is at most ten characters before its ';'.
      const limit = Math.min(text.length, amp + 11);
      let p = amp + 1;
      for (; p < limit; p++) {
        const c = text.charCodeAt(p);
        if (c === SEMICOLON || c === AMP || isAsciiSpace(c)) break;
      }
      if (text.charCodeAt(p) !== SEMICOLON) throw this.error('bare "&" in text');
      out += this.resolveReference(text.slice(amp + 1, p));
      done = p + 1;
      amp = text.indexOf('&', done);
    }
    return out + text.slice(done);
  }

  private resolveReference(ref: string): string {
    if (ref.charCodeAt(0) === 0x23 /* # */) {
      // The whole reference must be digits: parseInt alone would read "&#12abc;" as "&#12;".
      const hex = ref.charCodeAt(1) === 0x78 || ref.charCodeAt(1) === 0x58;
      const digits = ref.slice(hex ? 2 : 1);
      let ok = digits.length > 0;
      for (let i = 0; i < digits.length && ok; i++) {
        ok = hex ? isHexDigit(digits.charCodeAt(i)) : isDigit(digits.charCodeAt(i));
      }
      const code = ok ? parseInt(digits, hex ? 16 : 10) : NaN;
      if (!Number.isInteger(code) || code < 0 || code > 0x10ffff) throw this.error(`bad character reference &${ref};`);
      return String.fromCodePoint(code);
    }
    const ch = XML_ENTITIES[ref];
    if (ch === undefined) throw this.error(`unknown entity &${ref};`);
    return ch;
  }

  private count(): void {
    if (!this.meter.value()) throw this.error('too many values');
    if (this.meter.over()) throw this.error(TOO_LARGE);
  }

  private spend(bytes: number): void {
    if (!this.meter.spend(bytes)) throw this.error(TOO_LARGE);
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
          this.spend(CONTAINER_COST);
          return newDict();
        case 'array':
          this.checkDepth(depth + 1);
          this.spend(CONTAINER_COST);
          return [];
        default:
          throw this.error(`<${name}/> holds no value`);
      }
    }
    switch (name) {
      case 'string': {
        const text = this.readText(name);
        this.spend(2 * text.length);
        return text;
      }
      case 'true':
      case 'false':
        this.skipWhitespace();
        this.expectClose(name);
        return name === 'true';
      case 'data':
        return this.parseData(this.readText(name));
      case 'integer':
        return this.parseInteger(this.readText(name).trim());
      case 'real':
        return this.parseReal(this.readText(name).trim());
      case 'date':
        return this.parseDate(this.readText(name).trim());
      case 'array':
        return this.readArray(depth + 1);
      case 'dict':
        return this.readDict(depth + 1);
      default:
        throw this.error(`unknown element <${name}>`);
    }
  }

  /** Base64, possibly wrapped over lines; up to two '=' at the end only. */
  private parseData(text: string): Buffer {
    let padding = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (isAsciiSpace(c)) continue;
      if (c === EQUALS) padding++;
      if (padding > 2 || (padding > 0 ? c !== EQUALS : !isBase64(c))) throw this.error('<data> is not base64');
    }
    this.meter.work += text.length;
    // Buffer's base64 decoder skips the whitespace itself.
    const data = Buffer.from(text, 'base64');
    this.spend(BOXED_COST + data.length);
    return data;
  }

  /** Decimal or 0x-hexadecimal, optionally signed, within 128 bits (as the binary format). */
  private parseInteger(text: string): number | bigint {
    this.meter.work += text.length;
    const first = text.charCodeAt(0);
    const signed = first === PLUS || first === MINUS;
    const hex = text.startsWith('0x', signed ? 1 : 0);
    let i = (signed ? 1 : 0) + (hex ? 2 : 0);
    const digitsStart = i;
    while (i < text.length && (hex ? isHexDigit(text.charCodeAt(i)) : isDigit(text.charCodeAt(i)))) i++;
    if (i === digitsStart || i !== text.length) {
      throw this.error(`<integer> "${text.slice(0, 20)}" is not an integer`);
    }
    // Leading zeros do not count: only the significant digits go to BigInt.
    let significant = digitsStart;
    while (significant < text.length - 1 && text.charCodeAt(significant) === 0x30) significant++;
    if (text.length - significant > (hex ? 32 : 39))
      throw this.error(`<integer> "${text.slice(0, 20)}" is out of range`);
    const magnitude = BigInt((hex ? '0x' : '') + text.slice(significant));
    const value = first === MINUS ? -magnitude : magnitude;
    if (value < INT128_MIN || value > UINT128_MAX) throw this.error(`<integer> "${text.slice(0, 20)}" is out of range`);
    const result = safeNumber(value);
    if (typeof result === 'bigint') this.spend(BOXED_COST);
    return result;
  }

  /** `[+-](digits[.digits]|.digits)[e[+-]digits]`, or inf, infinity, nan in any case. */
  private parseReal(text: string): number {
    this.meter.work += text.length;
    const first = text.charCodeAt(0);
    const signed = first === PLUS || first === MINUS;
    if (text.length <= 9) {
      const word = text.slice(signed ? 1 : 0).toLowerCase();
      if (word === 'nan') return NaN;
      if (word === 'inf' || word === 'infinity') return first === MINUS ? -Infinity : Infinity;
    }
    let i = signed ? 1 : 0;
    const intEnd = skipDigits(text, i);
    let mantissaDigits = intEnd - i;
    i = intEnd;
    if (text.charCodeAt(i) === DOT) {
      const fracEnd = skipDigits(text, i + 1);
      mantissaDigits += fracEnd - i - 1;
      i = fracEnd;
    }
    let ok = mantissaDigits > 0;
    if (ok && (text.charCodeAt(i) | 0x20) === 0x65 /* e or E */) {
      i++;
      const c = text.charCodeAt(i);
      if (c === PLUS || c === MINUS) i++;
      const expEnd = skipDigits(text, i);
      ok = expEnd > i;
      i = expEnd;
    }
    if (!ok || i !== text.length) throw this.error(`<real> "${text.slice(0, 20)}" is not a number`);
    return Number(text);
  }

  /** `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, UTC only. */
  private parseDate(text: string): Date {
    this.meter.work += text.length;
    const shape = 'dddd-dd-ddTdd:dd:dd';
    let ok = text.length >= shape.length + 1;
    for (let i = 0; i < shape.length && ok; i++) {
      const c = text.charCodeAt(i);
      const want = shape.charCodeAt(i);
      ok = want === 0x64 /* d */ ? isDigit(c) : c === want;
    }
    let end = shape.length;
    let fraction = '';
    if (ok && text.charCodeAt(end) === DOT) {
      const fracEnd = skipDigits(text, end + 1);
      ok = fracEnd > end + 1;
      // Milliseconds are all a Date holds; the rest would only make the date parser work.
      fraction = text.slice(end, Math.min(fracEnd, end + 4));
      end = fracEnd;
    }
    if (!ok || end !== text.length - 1 || text.charCodeAt(end) !== 0x5a /* Z */) {
      throw this.error(`<date> "${text.slice(0, 30)}" is not an ISO 8601 UTC date`);
    }
    const date = new Date(`${text.slice(0, shape.length)}${fraction}Z`);
    if (Number.isNaN(date.getTime())) throw this.error('<date> is out of range');
    this.spend(BOXED_COST);
    return date;
  }

  private checkDepth(depth: number): void {
    if (depth > this.limits.maxDepth) throw this.error(`nesting deeper than ${this.limits.maxDepth}`);
  }

  /** Whether the next token is `</name`, which it then consumes. */
  private atClose(name: string): boolean {
    this.skipMisc();
    const s = this.src;
    if (s.charCodeAt(this.pos) === LT && s.charCodeAt(this.pos + 1) === SLASH && s.startsWith(name, this.pos + 2)) {
      this.expectClose(name);
      return true;
    }
    return false;
  }

  private readArray(depth: number): PlistValue[] {
    this.checkDepth(depth);
    this.spend(CONTAINER_COST);
    const out: PlistValue[] = [];
    while (!this.atClose('array')) out.push(this.readValue(depth));
    return out;
  }

  private readDict(depth: number): PlistDict {
    this.checkDepth(depth);
    this.spend(CONTAINER_COST);
    const out = newDict();
    while (!this.atClose('dict')) {
      const tag = this.readTag();
      if (tag.close || tag.name !== 'key') throw this.error('expected <key> in <dict>');
      const key = tag.selfClosing ? '' : this.readText('key');
      checkKey(key);
      if (key in out) throw this.error(`duplicate key "${key.slice(0, 40)}"`);
      this.spend(SLOT_COST + 2 * key.length);
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
  /**
   * Strings already decoded, by object index. A writer may point at one string from many
   * places (CoreFoundation shares equal strings); JavaScript strings are immutable, so every
   * reference can share the one decoded copy instead of paying for a new one.
   */
  private readonly strings: (string | undefined)[] = [];

  constructor(
    private readonly buf: Buffer,
    private readonly limits: PlistLimits,
    private readonly meter: Meter,
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
    this.meter.work += count;
  }

  read(): PlistValue {
    return this.object(this.top, 0, new Set());
  }

  private error(message: string): PlistDecodeError {
    return new PlistDecodeError(`binary plist: ${message}`);
  }

  private spend(bytes: number): void {
    if (!this.meter.spend(bytes)) throw this.error(TOO_LARGE);
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
    if (!this.meter.value()) throw this.error('too many values');
    if (this.meter.over()) throw this.error(TOO_LARGE);
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
        if (size === 8) return this.integer(this.buf.readBigInt64BE(at + 1));
        // 128-bit signed; CoreFoundation writes unsigned 64-bit values above INT64_MAX this way.
        if (size === 16) {
          return this.integer((this.buf.readBigInt64BE(at + 1) << 64n) + this.buf.readBigUInt64BE(at + 9));
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
        this.spend(BOXED_COST);
        return date;
      }
      case 0x4: {
        const { length, start } = this.length(marker, at);
        this.span(start, length);
        // A Buffer is mutable, so each reference gets its own copy, paid for each time.
        this.spend(BOXED_COST + length);
        this.meter.work += length;
        return Buffer.from(this.buf.subarray(start, start + length));
      }
      case 0x5:
      case 0x6:
        return this.string(index, marker, at);
      case 0xa:
        return this.container(index, depth, path, () => {
          const { length, start } = this.length(marker, at);
          this.span(start, length * this.refSize);
          this.spend(CONTAINER_COST);
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
          this.spend(CONTAINER_COST);
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

  private integer(v: bigint): number | bigint {
    const result = safeNumber(v);
    if (typeof result === 'bigint') this.spend(BOXED_COST);
    return result;
  }

  /** ASCII (0x5) or UTF-16BE (0x6) string, decoded once however often it is referenced. */
  private string(index: number, marker: number, at: number): string {
    const known = this.strings[index];
    if (known !== undefined) return known;
    const { length, start } = this.length(marker, at);
    let text: string;
    if (marker >> 4 === 0x5) {
      this.span(start, length);
      text = this.buf.toString('latin1', start, start + length);
    } else {
      this.span(start, length * 2);
      const units = Buffer.from(this.buf.subarray(start, start + length * 2));
      units.swap16();
      text = units.toString('utf16le');
    }
    this.meter.work += length;
    this.spend(2 * length);
    this.strings[index] = text;
    return text;
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
