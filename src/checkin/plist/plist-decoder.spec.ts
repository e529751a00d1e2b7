import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build, buildBinary } from 'plist';
import type { PlistValue as PlistJsValue } from 'plist';
import { DEFAULT_PLIST_LIMITS, PlistDecodeError, decodePlist, isPlistDict } from './plist-decoder.js';
import type { PlistDict, PlistLimits, PlistValue } from './plist-decoder.js';

// ---------------------------------------------------------------------------------------
// Helpers

const PROLOG =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n';

/** A complete XML plist document around `inner`. */
function xml(inner: string): Buffer {
  return Buffer.from(`${PROLOG}<plist version="1.0">${inner}</plist>`, 'utf8');
}

function decodeXml(inner: string, limits?: PlistLimits): PlistValue {
  return decodePlist(xml(inner), limits);
}

/** Decoded dictionaries have no prototype; turn them into plain objects so they compare with literals. */
function plain(value: PlistValue): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (isPlistDict(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function assertNullPrototypes(value: PlistValue): void {
  if (Array.isArray(value)) {
    value.forEach(assertNullPrototypes);
  } else if (isPlistDict(value)) {
    assert.equal(Object.getPrototypeOf(value), null, 'a decoded dictionary must have no prototype');
    Object.values(value).forEach(assertNullPrototypes);
  }
}

/** Asserts that decoding throws a PlistDecodeError (and nothing else) whose message matches. */
function assertRejects(body: Buffer | string, message: RegExp, limits?: PlistLimits): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  assert.throws(
    () => decodePlist(buf, limits),
    (err: unknown) => {
      assert.ok(err instanceof PlistDecodeError, `expected a PlistDecodeError, got ${String(err)}`);
      assert.equal(err.name, 'PlistDecodeError');
      assert.match(err.message, message);
      return true;
    },
  );
}

/** Decoding may succeed or fail, but a failure must be a PlistDecodeError. */
function decodesOrRejectsCleanly(buf: Buffer, limits?: PlistLimits): void {
  try {
    decodePlist(buf, limits);
  } catch (err) {
    assert.ok(err instanceof PlistDecodeError, `expected a PlistDecodeError, got ${String(err)}`);
  }
}

function nested(open: string, close: string, depth: number, leaf = ''): string {
  return open.repeat(depth) + leaf + close.repeat(depth);
}

// Hand-built binary plists: header, objects in order, offset table, trailer.

interface RawOptions {
  readonly refSize?: number;
  readonly offsetSize?: number;
  readonly top?: number;
  /** Overrides the object count written in the trailer. */
  readonly count?: number;
  /** Overrides the offset-table position written in the trailer. */
  readonly tableStart?: number;
  /** Overrides entries of the offset table (same length as objects). */
  readonly offsets?: readonly number[];
}

function bplist(objects: readonly Buffer[], opts: RawOptions = {}): Buffer {
  const refSize = opts.refSize ?? 1;
  const offsetSize = opts.offsetSize ?? 1;
  const offsets: number[] = [];
  let pos = 8;
  for (const o of objects) {
    offsets.push(pos);
    pos += o.length;
  }
  const table = Buffer.alloc(objects.length * offsetSize);
  (opts.offsets ?? offsets).forEach((off, i) => table.writeUIntBE(off, i * offsetSize, offsetSize));
  const trailer = Buffer.alloc(32);
  trailer.writeUInt8(offsetSize, 6);
  trailer.writeUInt8(refSize, 7);
  trailer.writeBigUInt64BE(BigInt(opts.count ?? objects.length), 8);
  trailer.writeBigUInt64BE(BigInt(opts.top ?? 0), 16);
  trailer.writeBigUInt64BE(BigInt(opts.tableStart ?? pos), 24);
  return Buffer.concat([Buffer.from('bplist00', 'latin1'), ...objects, table, trailer]);
}

function refs(values: readonly number[], refSize: number): Buffer {
  const out = Buffer.alloc(values.length * refSize);
  values.forEach((v, i) => out.writeUIntBE(v, i * refSize, refSize));
  return out;
}

/** An array object with fewer than 15 members. */
function arr(members: readonly number[], refSize = 1): Buffer {
  return Buffer.concat([Buffer.from([0xa0 | members.length]), refs(members, refSize)]);
}

/** A dictionary object with fewer than 15 entries. */
function dict(keys: readonly number[], values: readonly number[]): Buffer {
  return Buffer.from([0xd0 | keys.length, ...keys, ...values]);
}

/** An ASCII string object shorter than 15 characters. */
function ascii(s: string): Buffer {
  return Buffer.concat([Buffer.from([0x50 | s.length]), Buffer.from(s, 'latin1')]);
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------------------------------
// Sample values

const DATE = new Date('2024-05-06T07:08:09Z');

/** Values both the plist package's XML and binary builders encode faithfully. */
function commonSample(): Record<string, unknown> {
  return {
    ascii: 'hello',
    unicode: 'héllo wörld — 日本語 🚀 ключ',
    special: `<tag attr="x">&amp; 'q' ]]> &lt;`,
    whitespace: ' leading and trailing\r\n\ttabs ',
    empty: '',
    long: 'x'.repeat(300),
    zero: 0,
    positive: 42,
    byte: 255,
    short: 65535,
    uint32: 4294967295,
    negative: -17,
    int32Min: -2147483648,
    real: 3.25,
    negativeReal: -0.5,
    tiny: 1.5e-10,
    yes: true,
    no: false,
    date: DATE,
    data: Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]),
    emptyData: Buffer.alloc(0),
    bigData: Buffer.alloc(70_000, 0xab),
    emptyArray: [],
    emptyDict: {},
    '': 'empty key',
    'key with <&> "quotes"': 'v',
    ключ: 'unicode key',
    constructor: 'not special on a prototype-less dict',
    nested: {
      list: [1, 'two', [3, { four: 4 }], {}, [], ''],
      dict: { inner: { deeper: true, when: DATE } },
    },
    many: Array.from({ length: 300 }, (_, i) => i * 1000),
  };
}

// ---------------------------------------------------------------------------------------

describe('decodePlist: XML round trips with the plist package', () => {
  it('decodes a dictionary of every type exactly as it was built', () => {
    const sample = {
      ...commonSample(),
      maxSafe: Number.MAX_SAFE_INTEGER,
      minSafe: Number.MIN_SAFE_INTEGER,
      int64Max: 2n ** 63n - 1n,
      int64Min: -(2n ** 63n),
      beyondSafe: 2n ** 53n + 1n,
    };
    const decoded = decodePlist(Buffer.from(build(sample as unknown as PlistJsValue), 'utf8'));
    assertNullPrototypes(decoded);
    assert.deepStrictEqual(plain(decoded), sample);
  });

  it('returns data as a Buffer and big integers as bigint', () => {
    const decoded = decodePlist(
      Buffer.from(build({ d: Buffer.from('hi'), big: 2n ** 60n } as unknown as PlistJsValue), 'utf8'),
    );
    assert.ok(isPlistDict(decoded));
    assert.ok(Buffer.isBuffer(decoded.d));
    assert.equal(decoded.big, 2n ** 60n);
  });

  it('decodes compact (unindented) output', () => {
    const sample = { a: [1, 'b', { c: false }], d: 'e' };
    const decoded = decodePlist(Buffer.from(build(sample, { pretty: false }), 'utf8'));
    assert.deepStrictEqual(plain(decoded), sample);
  });

  it('decodes a non-dictionary root', () => {
    assert.deepStrictEqual(plain(decodePlist(Buffer.from(build(['a', 1, true]), 'utf8'))), ['a', 1, true]);
    assert.equal(decodePlist(Buffer.from(build('just a string'), 'utf8')), 'just a string');
  });
});

describe('decodePlist: XML syntax', () => {
  it('accepts a plist without prolog or DOCTYPE', () => {
    assert.equal(decodePlist(Buffer.from('<plist><true/></plist>')), true);
    assert.equal(decodePlist(Buffer.from('<plist version="1.0"><false/></plist>')), false);
  });

  it('skips comments and processing instructions around and between elements', () => {
    const body =
      '<!-- before --><?xml version="1.0"?>\n<!-- again -->' +
      '<plist version="1.0"><!-- c --><dict><!-- c --><key>a</key><!-- c --><string>x</string>' +
      '<?pi stuff?><key>b</key><array><!-- c --><integer>1</integer><!-- c --></array></dict>' +
      '<!-- c --></plist><!-- after -->\n';
    assert.deepStrictEqual(plain(decodePlist(Buffer.from(body))), { a: 'x', b: [1] });
  });

  it('drops comments inside text', () => {
    assert.equal(decodeXml('<string>a<!-- not text -->b</string>'), 'ab');
    assert.equal(decodeXml('<integer>1<!-- x -->2</integer>'), 12);
  });

  it('keeps CDATA content verbatim', () => {
    assert.equal(decodeXml('<string><![CDATA[<not a tag> & &amp; stuff]]></string>'), '<not a tag> & &amp; stuff');
    assert.equal(decodeXml('<string>a&amp;<![CDATA[<b>]]>c</string>'), 'a&<b>c');
    assert.equal(decodeXml('<string><![CDATA[]]></string>'), '');
  });

  it('resolves the predefined entities and character references', () => {
    assert.equal(decodeXml('<string>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#X43;&#x1F680;</string>'), '<>&"\'ABC🚀');
    assert.deepStrictEqual(plain(decodeXml('<dict><key>a&amp;b</key><true/></dict>')), { 'a&b': true });
  });

  it('accepts base64 data wrapped over several lines with spaces and tabs', () => {
    const decoded = decodeXml('<data>\n\t\tAAEC\n\t\tA/8=\r\n  </data>');
    assert.deepStrictEqual(decoded, Buffer.from([0, 1, 2, 3, 0xff]));
  });

  it('accepts a UTF-8 byte order mark', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), xml('<string>bom</string>')]);
    assert.equal(decodePlist(body), 'bom');
  });

  it('reads self-closing elements as empty values', () => {
    const decoded = decodeXml(
      '<dict><key>s</key><string/><key>d</key><data/><key>a</key><array/><key>o</key><dict/>' +
        '<key/><string /><key>t</key><true/><key>f</key><false /></dict>',
    );
    assert.deepStrictEqual(plain(decoded), { s: '', d: Buffer.alloc(0), a: [], o: {}, '': '', t: true, f: false });
  });

  it('accepts <true></true> and whitespace inside tags', () => {
    assert.deepStrictEqual(plain(decodeXml('<array ><true></true><false> </false><string >x</string ></array>')), [
      true,
      false,
      'x',
    ]);
  });

  it('parses integers: signs, hex, surrounding whitespace, and bigint beyond the safe range', () => {
    const decoded = decodeXml(
      '<array><integer>+7</integer><integer>-0</integer><integer>0x1F</integer><integer> 12 </integer>' +
        '<integer>9007199254740991</integer><integer>9007199254740992</integer>' +
        '<integer>-9007199254740993</integer><integer>-0x10</integer></array>',
    );
    assert.deepStrictEqual(decoded, [7, 0, 31, 12, 9007199254740991, 9007199254740992n, -9007199254740993n, -16]);
  });

  it('parses reals including exponents, inf and nan', () => {
    const decoded = decodeXml(
      '<array><real>1.5e3</real><real>.5</real><real>-2.</real><real>inf</real><real>-Infinity</real>' +
        '<real>+inf</real><real>nan</real><real> 7 </real></array>',
    );
    assert.deepStrictEqual(decoded, [1500, 0.5, -2, Infinity, -Infinity, Infinity, NaN, 7]);
  });

  it('parses dates with and without fractional seconds', () => {
    assert.deepStrictEqual(decodeXml('<date>2024-05-06T07:08:09Z</date>'), DATE);
    assert.deepStrictEqual(decodeXml('<date>2024-05-06T07:08:09.250Z</date>'), new Date('2024-05-06T07:08:09.250Z'));
  });

  it('builds dictionaries without a prototype, so keys like constructor are ordinary', () => {
    const decoded = decodeXml(
      '<dict><key>constructor</key><string>c</string><key>toString</key><integer>1</integer></dict>',
    );
    assert.ok(isPlistDict(decoded));
    assert.equal(Object.getPrototypeOf(decoded), null);
    assert.deepStrictEqual(Object.keys(decoded), ['constructor', 'toString']);
  });
});

describe('decodePlist: XML rejections', () => {
  it('refuses input that is not XML', () => {
    assertRejects('', /start with <plist>|expected an element/);
    assertRejects('hello world', /expected an element/);
    assertRejects('{"MessageType":"Authenticate"}', /expected an element/);
    assertRejects('bplist0', /expected an element/);
    assertRejects(Buffer.from([0xff, 0x00, 0x13, 0x37]), /expected an element/);
  });

  it('refuses a root other than <plist>', () => {
    assertRejects('<dict><key>a</key><true/></dict>', /must start with <plist>/);
    assertRejects(`${PROLOG}<html><body/></html>`, /must start with <plist>/);
    assertRejects('</plist>', /must start with <plist>/);
  });

  it('refuses an empty <plist>', () => {
    assertRejects('<plist/>', /holds no value/);
    assertRejects('<plist version="1.0"></plist>', /unexpected <\/plist>/);
  });

  it('refuses a second value inside <plist>', () => {
    assertRejects(xml('<true/><false/>'), /expected <\/plist>/);
  });

  it('refuses unknown elements', () => {
    assertRejects(xml('<foo>1</foo>'), /unknown element <foo>/);
    assertRejects(xml('<dict><key>a</key><uid>1</uid></dict>'), /unknown element <uid>/);
    assertRejects(xml('<array><null/></array>'), /<null\/> holds no value/);
    assertRejects(xml('<integer/>'), /<integer\/> holds no value/);
  });

  it('refuses malformed tags and mismatched closing tags', () => {
    assertRejects(xml('<string>a</strong>'), /expected <\/string>/);
    assertRejects(xml('<array><true/></dict>'), /unexpected <\/dict>|expected an element/);
    assertRejects(xml('<1abc/>'), /malformed tag/);
    assertRejects(xml('<string>a</string x="1">'), /malformed closing tag/);
    assertRejects('<plist version="1.0"><string>abc', /unterminated <string>/);
    assertRejects('<plist version="1.0"><string', /unterminated tag/);
  });

  it('refuses text where an element belongs', () => {
    assertRejects(xml('<array>loose text<true/></array>'), /expected an element/);
    assertRejects(xml('<dict>text</dict>'), /expected an element/);
  });

  it('refuses a <dict> member that is not a <key>', () => {
    assertRejects(xml('<dict><string>no key</string></dict>'), /expected <key> in <dict>/);
  });

  it('refuses a <key> without a value', () => {
    assertRejects(xml('<dict><key>a</key></dict>'), /key "a" has no value/);
    assertRejects(
      xml('<dict><key>a</key><string>1</string><key>b</key><!-- nothing --></dict>'),
      /key "b" has no value/,
    );
    assertRejects(xml('<dict><key>a</key><key>b</key><true/></dict>'), /unknown element <key>/);
  });

  it('refuses a duplicate key', () => {
    assertRejects(xml('<dict><key>a</key><true/><key>a</key><false/></dict>'), /duplicate key "a"/);
    assertRejects(xml('<dict><key>a&amp;</key><true/><key>a&#38;</key><false/></dict>'), /duplicate key "a&"/);
  });

  it('refuses a __proto__ key, also when written with a character reference', () => {
    assertRejects(xml('<dict><key>__proto__</key><dict><key>polluted</key><true/></dict></dict>'), /__proto__/);
    assertRejects(xml('<dict><key>__proto&#95;_</key><true/></dict>'), /__proto__/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses a DOCTYPE with an internal subset (entity definitions, billion laughs)', () => {
    const laughs =
      '<?xml version="1.0"?>\n<!DOCTYPE plist [\n' +
      ' <!ENTITY lol "lol">\n <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n' +
      ' <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">\n' +
      ']>\n<plist version="1.0"><string>&lol2;</string></plist>';
    assertRejects(laughs, /DOCTYPE internal subset/);
    assertRejects(
      '<!DOCTYPE plist [<!ENTITY x SYSTEM "file:///etc/passwd">]><plist><string>&x;</string></plist>',
      /DOCTYPE internal subset/,
    );
    assertRejects('<!DOCTYPE plist PUBLIC "x" "y"', /unterminated DOCTYPE/);
  });

  it('refuses unknown entities, bare ampersands and bad character references', () => {
    assertRejects(xml('<string>&foo;</string>'), /unknown entity &foo;/);
    assertRejects(xml('<string>a & b</string>'), /bare "&"/);
    assertRejects(xml('<string>AT&T</string>'), /bare "&"/);
    assertRejects(xml('<string>&amp</string>'), /bare "&"/);
    assertRejects(xml('<string>&averyveryverylongname;</string>'), /bare "&"|unknown entity/);
    assertRejects(xml('<string>&#xZZ;</string>'), /bad character reference/);
    assertRejects(xml('<string>&#;</string>'), /bad character reference/);
    assertRejects(xml('<string>&#x110000;</string>'), /bad character reference/);
    assertRejects(xml('<string>&#12abc;</string>'), /bad character reference/);
    assertRejects(xml('<string>&#x41zz;</string>'), /bad character reference/);
    assertRejects(xml('<dict><key>&nbsp;</key><true/></dict>'), /unknown entity &nbsp;/);
  });

  it('refuses content after </plist>', () => {
    assertRejects(`${PROLOG}<plist version="1.0"><true/></plist>junk`, /content after <\/plist>/);
    assertRejects(`${PROLOG}<plist version="1.0"><true/></plist><plist><true/></plist>`, /content after <\/plist>/);
  });

  it('refuses unterminated comments, processing instructions and CDATA', () => {
    assertRejects(`${PROLOG}<!-- never closed <plist/>`, /unterminated comment/);
    assertRejects('<?xml version="1.0"', /unterminated processing instruction/);
    assertRejects(xml('<string><![CDATA[abc</string>'), /unterminated CDATA/);
    assertRejects(xml('<string>a<!-- b</string>'), /unterminated comment/);
  });

  it('refuses malformed scalar values', () => {
    assertRejects(xml('<integer>1.5</integer>'), /is not an integer/);
    assertRejects(xml('<integer>abc</integer>'), /is not an integer/);
    assertRejects(xml('<integer></integer>'), /is not an integer/);
    assertRejects(xml('<integer>0xZZ</integer>'), /is not an integer/);
    assertRejects(xml('<real>abc</real>'), /is not a number/);
    assertRejects(xml('<real>1.2.3</real>'), /is not a number/);
    assertRejects(xml('<date>yesterday</date>'), /is not an ISO 8601 UTC date/);
    assertRejects(xml('<date>2024-05-06T07:08:09</date>'), /is not an ISO 8601 UTC date/);
    assertRejects(xml('<date>2024-05-06T07:08:09+02:00</date>'), /is not an ISO 8601 UTC date/);
    assertRejects(xml('<date>2024-13-01T00:00:00Z</date>'), /out of range/);
    assertRejects(xml('<data>!!!not base64</data>'), /not base64/);
    assertRejects(xml('<data>AA=A</data>'), /not base64/);
    assertRejects(xml('<true>yes</true>'), /expected an element/);
  });

  it('refuses nesting deeper than the limit without overflowing the stack', () => {
    assertRejects(xml(nested('<array>', '</array>', 5000)), /nesting deeper than 32/);
    assertRejects(xml(nested('<dict><key>k</key>', '</dict>', 5000, '<true/>')), /nesting deeper than 32/);
    assertRejects(xml(nested('<array>', '</array>', 100_000)), /nesting deeper than 32/);
  });

  it('allows exactly maxDepth levels and refuses one more', () => {
    const limit = DEFAULT_PLIST_LIMITS.maxDepth;
    assert.ok(Array.isArray(decodeXml(nested('<array>', '</array>', limit))));
    assertRejects(xml(nested('<array>', '</array>', limit + 1)), /nesting deeper than/);

    const small: PlistLimits = { maxDepth: 2, maxValues: 1000 };
    assert.deepStrictEqual(decodeXml('<array><array/></array>', small), [[]]);
    assertRejects(xml('<array><array><array/></array></array>'), /nesting deeper than 2/, small);
    assertRejects(xml('<dict><key>a</key><dict><key>b</key><dict/></dict></dict>'), /nesting deeper than 2/, small);
  });

  it('refuses more values than maxValues', () => {
    const limits: PlistLimits = { maxDepth: 32, maxValues: 4 };
    // The array itself and its members each count as one value.
    assert.deepStrictEqual(decodeXml('<array><true/><true/><true/></array>', limits), [true, true, true]);
    assertRejects(xml('<array><true/><true/><true/><true/></array>'), /too many values/, limits);
    assertRejects(
      xml('<dict><key>a</key><true/><key>b</key><true/><key>c</key><true/><key>d</key><true/></dict>'),
      /too many values/,
      limits,
    );
  });

  it('refuses more values than the default limit', () => {
    const count = DEFAULT_PLIST_LIMITS.maxValues;
    assert.equal((decodeXml(`<array>${'<true/>'.repeat(count - 1)}</array>`) as PlistValue[]).length, count - 1);
    assertRejects(xml(`<array>${'<true/>'.repeat(count)}</array>`), /too many values/);
  });
});

describe('decodePlist: binary round trips with the plist package', () => {
  it('decodes a dictionary of every type exactly as it was built', () => {
    const sample = {
      ...commonSample(),
      // Numbers beyond 32 bits are written as reals by the plist package.
      beyond32: 2 ** 40,
      maxSafe: Number.MAX_SAFE_INTEGER,
      // bigint is written as an 8-byte integer via Number(), exact for these.
      bigPositive: 2n ** 62n,
      bigNegative: -(2n ** 62n),
    };
    const bytes = toBuffer(buildBinary(sample as unknown as PlistJsValue));
    assert.equal(bytes.toString('latin1', 0, 8), 'bplist00');
    const decoded = decodePlist(bytes);
    assertNullPrototypes(decoded);
    assert.deepStrictEqual(plain(decoded), sample);
  });

  it('decodes a non-dictionary root and scalar roots', () => {
    assert.deepStrictEqual(decodePlist(toBuffer(buildBinary([1, 'a', false]))), [1, 'a', false]);
    assert.equal(decodePlist(toBuffer(buildBinary('only'))), 'only');
    assert.equal(decodePlist(toBuffer(buildBinary(-5))), -5);
    assert.deepStrictEqual(decodePlist(toBuffer(buildBinary(Buffer.from('xyz')))), Buffer.from('xyz'));
  });

  it('returns data as a Buffer that does not alias the input', () => {
    const bytes = toBuffer(buildBinary({ d: Buffer.from([1, 2, 3]) }));
    const decoded = decodePlist(bytes);
    assert.ok(isPlistDict(decoded) && Buffer.isBuffer(decoded.d));
    bytes.fill(0);
    assert.deepStrictEqual(decoded.d, Buffer.from([1, 2, 3]));
  });

  it('decodes a shared (deduplicated) object reached from several places', () => {
    // The plist package writes equal strings once and references them from every use.
    const sample = { a: 'same', b: 'same', c: ['same', 'same'] };
    assert.deepStrictEqual(plain(decodePlist(toBuffer(buildBinary(sample)))), sample);
  });

  it('allows exactly maxDepth levels and refuses one more', () => {
    let value: PlistJsValue = [];
    for (let i = 1; i < DEFAULT_PLIST_LIMITS.maxDepth; i++) value = [value];
    assert.ok(Array.isArray(decodePlist(toBuffer(buildBinary(value)))));
    assertRejects(toBuffer(buildBinary([value])), /nesting deeper than 32/);
  });
});

describe('decodePlist: hand-built binary plists', () => {
  it('decodes the hand-built layout (sanity check for the helpers)', () => {
    const body = bplist([dict([1], [2]), ascii('key'), arr([3, 4]), Buffer.from([0x10, 0xff]), Buffer.from([0x09])]);
    assert.deepStrictEqual(plain(decodePlist(body)), { key: [255, true] });
  });

  it('reads 1-, 2- and 4-byte integers as unsigned and 8-byte integers as signed', () => {
    const body = bplist([
      arr([1, 2, 3, 4, 5]),
      Buffer.from([0x10, 0xff]),
      Buffer.from([0x11, 0xff, 0xfe]),
      Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from([0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]),
      Buffer.from([0x13, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ]);
    assert.deepStrictEqual(decodePlist(body), [255, 65534, 4294967295, -2, 2n ** 63n - 1n]);
  });

  it('reads 16-byte integers as 128-bit signed values', () => {
    const int128 = (hi: bigint, lo: bigint): Buffer => {
      const b = Buffer.alloc(17);
      b[0] = 0x14;
      b.writeBigInt64BE(hi, 1);
      b.writeBigUInt64BE(lo, 9);
      return b;
    };
    const body = bplist([
      arr([1, 2, 3, 4]),
      int128(0n, 2n ** 64n - 1n), // how CoreFoundation writes an unsigned 64-bit value above INT64_MAX
      int128(0n, 5n),
      int128(-1n, 2n ** 64n - 1n),
      int128(1n, 0n),
    ]);
    assert.deepStrictEqual(decodePlist(body), [2n ** 64n - 1n, 5, -1, 2n ** 64n]);
  });

  it('reads 4-byte reals and dates relative to 2001-01-01', () => {
    const f = Buffer.alloc(5);
    f[0] = 0x22;
    f.writeFloatBE(1.5, 1);
    const d = Buffer.alloc(9);
    d[0] = 0x33;
    d.writeDoubleBE(0, 1);
    assert.deepStrictEqual(decodePlist(bplist([arr([1, 2]), f, d])), [1.5, new Date('2001-01-01T00:00:00Z')]);
  });

  it('refuses a date that is not a valid time', () => {
    for (const seconds of [NaN, Infinity, 1e300]) {
      const d = Buffer.alloc(9);
      d[0] = 0x33;
      d.writeDoubleBE(seconds, 1);
      assertRejects(bplist([d]), /date/);
    }
  });

  it('refuses a __proto__ key', () => {
    assertRejects(bplist([dict([1], [2]), ascii('__proto__'), Buffer.from([0x09])]), /__proto__/);
    // The same through the plist package (JSON.parse makes an own "__proto__" property).
    const own = JSON.parse('{"__proto__": {"polluted": true}}') as PlistJsValue;
    assertRejects(toBuffer(buildBinary(own)), /__proto__/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses a duplicate key and a key that is not a string', () => {
    assertRejects(bplist([dict([1, 1], [2, 2]), ascii('a'), Buffer.from([0x09])]), /duplicate key "a"/);
    assertRejects(bplist([dict([1], [1]), Buffer.from([0x10, 1])]), /key is not a string/);
  });

  it('refuses a truncated binary plist at every length', () => {
    const full = toBuffer(buildBinary({ MessageType: 'Authenticate', Topic: 'com.apple.mgmt.x', n: [1, 2, 3] }));
    assert.ok(isPlistDict(decodePlist(full)));
    for (let length = 8; length < full.length; length++) {
      assertRejects(full.subarray(0, length), /binary plist/);
    }
  });

  it('refuses out-of-range trailer values', () => {
    const objects = [arr([1]), ascii('x')];
    assert.deepStrictEqual(decodePlist(bplist(objects)), ['x']);
    assertRejects(bplist(objects, { offsetSize: 3 }), /bad trailer sizes/);
    assertRejects(bplist(objects, { refSize: 0 }), /bad trailer sizes/);
    assertRejects(bplist(objects, { count: 0 }), /offset table out of range/);
    assertRejects(bplist(objects, { count: 1000 }), /offset table out of range/);
    assertRejects(bplist(objects, { tableStart: 4 }), /offset table out of range/);
    assertRejects(bplist(objects, { tableStart: 10_000 }), /offset table out of range/);
    assertRejects(bplist(objects, { top: 2 }), /top object out of range/);
  });

  it('refuses object offsets outside the object area', () => {
    const objects = [arr([1]), ascii('x')];
    assertRejects(bplist(objects, { offsets: [8, 200] }), /object offset out of range/);
    assertRejects(bplist(objects, { offsets: [8, 3] }), /object offset out of range/);
    assertRejects(
      bplist(objects, { offsets: [8, 8 + objects[0]!.length + objects[1]!.length] }),
      /object offset out of range/,
    );
  });

  it('refuses references to objects that do not exist', () => {
    assertRejects(bplist([arr([7]), ascii('x')]), /reference out of range/);
    assertRejects(bplist([dict([1], [9]), ascii('k')]), /reference out of range/);
  });

  it('refuses objects that run past the end of the object area', () => {
    // A 10-character string holding only 2 bytes.
    assertRejects(bplist([Buffer.from([0x5a, 0x41, 0x42])]), /runs past the end/);
    // A UTF-16 string, data and an array whose declared length is too long.
    assertRejects(bplist([Buffer.from([0x63, 0x00, 0x41])]), /runs past the end/);
    assertRejects(bplist([Buffer.from([0x45, 0x01])]), /runs past the end/);
    assertRejects(bplist([Buffer.from([0xa5, 0x00])]), /runs past the end/);
    // An extended length far beyond the buffer.
    assertRejects(
      bplist([Buffer.from([0x4f, 0x13, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00])]),
      /runs past the end/,
    );
    // An 8-byte integer with only one byte behind it.
    assertRejects(bplist([Buffer.from([0x13, 0x01])]), /runs past the end/);
  });

  it('refuses bad markers', () => {
    assertRejects(bplist([Buffer.from([0x00])]), /unsupported singleton/);
    assertRejects(bplist([Buffer.from([0x80, 0x01])]), /unsupported object type 0x8/);
    assertRejects(bplist([Buffer.from([0x34, 0, 0, 0, 0, 0, 0, 0, 0])]), /bad date marker/);
    assertRejects(bplist([Buffer.from([0x21, 0, 0])]), /bad real size/);
    assertRejects(bplist([Buffer.from([0x5f, 0x20, 0x01, 0x41])]), /bad length marker/);
    assertRejects(bplist([Buffer.from([0x15, ...Buffer.alloc(40)])]), /bad integer size/);
  });

  it('refuses an array that references one array from many places (exponential expansion) quickly', () => {
    // Array i holds two references to array i + 1: 2^40 - 1 values if expanded. The depth
    // and expansion limits are raised so that only maxValues can stop it.
    const count = 40;
    const objects = Array.from({ length: count }, (_, i) => (i === count - 1 ? arr([]) : arr([i + 1, i + 1])));
    const body = bplist(objects);
    assert.ok(body.length < 256);
    const started = performance.now();
    assertRejects(body, /too many values/, {
      maxDepth: 64,
      maxValues: DEFAULT_PLIST_LIMITS.maxValues,
      maxExpansion: 1e9,
    });
    assert.ok(performance.now() - started < 2000, 'the decoder must stop at maxValues, not expand the graph');
  });

  it('refuses exponential expansion under the default limits', () => {
    // 30 levels stay within the default depth; 2^30 - 1 values if expanded. The decoded size
    // passes its bound (8 bytes per body byte) long before the value count does.
    const count = 30;
    const objects = Array.from({ length: count }, (_, i) => (i === count - 1 ? arr([]) : arr([i + 1, i + 1])));
    const started = performance.now();
    assertRejects(bplist(objects), /decoded values would be too large for the body size/);
    assert.ok(performance.now() - started < 2000);
  });

  it('counts a shared object every time it is reached', () => {
    // 5 arrays, each holding the next one twice: 1 + 2 + 4 + 8 + 16 = 31 values.
    const objects = Array.from({ length: 5 }, (_, i) => (i === 4 ? arr([]) : arr([i + 1, i + 1])));
    const body = bplist(objects);
    const decoded = decodePlist(body, { maxDepth: 32, maxValues: 31 });
    assert.deepStrictEqual(decoded, [
      [
        [
          [[], []],
          [[], []],
        ],
        [
          [[], []],
          [[], []],
        ],
      ],
      [
        [
          [[], []],
          [[], []],
        ],
        [
          [[], []],
          [[], []],
        ],
      ],
    ]);
    assertRejects(body, /too many values/, { maxDepth: 32, maxValues: 30 });
  });

  it('refuses an object that contains itself', () => {
    const limits: PlistLimits = { maxDepth: 1000, maxValues: 100_000 };
    assertRejects(bplist([arr([0])]), /contains itself/, limits);
    assertRejects(bplist([arr([1]), dict([2], [0]), ascii('k')]), /contains itself/, limits);
    assertRejects(bplist([dict([1], [0]), ascii('self')]), /contains itself/, limits);
    // Reached through a sibling first, then the cycle closes deeper down.
    assertRejects(bplist([arr([1, 2]), ascii('ok'), arr([3]), arr([2])]), /contains itself/, limits);
  });

  it('refuses nesting deeper than the limit without overflowing the stack', () => {
    const depth = 5000;
    const objects = Array.from({ length: depth }, (_, i) => (i === depth - 1 ? arr([], 2) : arr([i + 1], 2)));
    assertRejects(bplist(objects, { refSize: 2, offsetSize: 2 }), /nesting deeper than 32/);
  });

  it('never throws anything but PlistDecodeError for corrupted bytes', () => {
    const full = toBuffer(
      buildBinary({
        MessageType: 'TokenUpdate',
        Token: Buffer.from('0123456789abcdef'),
        UnicodeName: 'Zoë’s iPad',
        Nested: [{ a: 1, b: 2.5, c: new Date(0) }, [true, false], 'x'.repeat(20)],
      }),
    );
    for (let at = 0; at < full.length; at++) {
      for (const mutate of [(b: number) => b ^ 0x80, (b: number) => b ^ 0x01, () => 0x00, () => 0xff, () => 0x0f]) {
        const copy = Buffer.from(full);
        copy[at] = mutate(copy[at]!);
        decodesOrRejectsCleanly(copy);
      }
    }
  });
});

describe('decodePlist: format detection', () => {
  it('treats a body starting with bplist00 as binary even if it looks like XML afterwards', () => {
    assertRejects(Buffer.from('bplist00<plist><true/></plist>'), /binary plist/);
  });

  it('treats a body shorter than the magic as XML', () => {
    assertRejects(Buffer.from('bplist'), /XML plist/);
  });
});

describe('isPlistDict', () => {
  it('is true for decoded dictionaries and plain objects', () => {
    assert.equal(isPlistDict(decodeXml('<dict/>')), true);
    assert.equal(isPlistDict(decodePlist(toBuffer(buildBinary({ a: 1 })))), true);
    const literal: PlistDict = { a: 1 };
    assert.equal(isPlistDict(literal), true);
  });

  it('is false for every other plist value', () => {
    const others: PlistValue[] = [
      '',
      'x',
      0,
      1.5,
      1n,
      true,
      false,
      new Date(),
      Buffer.alloc(0),
      Buffer.from('x'),
      [],
      [{}],
    ];
    others.forEach((value, i) => assert.equal(isPlistDict(value), false, `isPlistDict(others[${i}])`));
  });
});
