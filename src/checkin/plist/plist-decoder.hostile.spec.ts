import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { realBomb, sharedObjectBomb, xmlDocument } from '../../../test/support/hostile-bodies.js';
import { DEFAULT_PLIST_LIMITS, PlistDecodeError, decodePlist, isPlistDict } from './plist-decoder.js';
import type { PlistDecodeStats, PlistValue } from './plist-decoder.js';

// Issue 9 §1: what a body costs to decode must be linear in its size, whatever its shape.

/** Decodes, returning what it cost; a refusal must be a PlistDecodeError. */
function cost(body: Buffer): PlistDecodeStats & { value?: PlistValue; error?: string } {
  const stats: PlistDecodeStats = { work: 0, decodedBytes: 0 };
  try {
    const value = decodePlist(body, DEFAULT_PLIST_LIMITS, stats);
    return { ...stats, value };
  } catch (err) {
    assert.ok(err instanceof PlistDecodeError, `expected a PlistDecodeError, got ${String(err)}`);
    return { ...stats, error: err.message };
  }
}

/** The bound the decoder promises: 8 estimated bytes per body byte plus a fixed allowance. */
const expansionBound = (body: Buffer): number => 8 * body.length + 16 * 1024;

/** Work per body byte allowed for any body (the scanner looks at each character a few times). */
const WORK_PER_BYTE = 4;

describe('decodePlist: a binary plist that points at one object many times', () => {
  it('decodes the 144 KB body of the issue (99,000 references to one 45 KB string) once, within the bound', () => {
    const body = sharedObjectBomb({ identity: { MessageType: 'TokenUpdate', UDID: 'bomb-udid' } });
    assert.ok(body.length > 140_000 && body.length < 150_000, `${body.length} bytes`);
    const c = cost(body);
    assert.equal(c.error, undefined);
    assert.ok(c.value !== undefined && isPlistDict(c.value));
    const junk = c.value.Junk as string[];
    assert.equal(junk.length, 99_000);
    assert.ok(junk.every((s) => s.length === 45_000));
    // Copied once per reference this would be 99,000 × 45 KB ≈ 4.5 GB.
    assert.ok(c.decodedBytes <= expansionBound(body), `${c.decodedBytes} estimated bytes for ${body.length}`);
    assert.ok(c.work <= WORK_PER_BYTE * body.length, `${c.work} work for ${body.length} bytes`);
  });

  it('keeps the decoded size of shared strings small however many references point at them', () => {
    const small = cost(sharedObjectBomb({ refs: 1000, bytes: 45_000 }));
    const large = cost(sharedObjectBomb({ refs: 64_000, bytes: 45_000 }));
    assert.equal(small.error, undefined);
    assert.equal(large.error, undefined);
    // 63,000 more references cost a slot each, never another copy of the string.
    assert.ok(large.decodedBytes - small.decodedBytes <= 63_000 * 8, `${small.decodedBytes} → ${large.decodedBytes}`);
  });

  it('refuses shared data (each reference a mutable copy) once the copies pass the bound', () => {
    const body = sharedObjectBomb({ kind: 'data', identity: { UDID: 'bomb-udid' } });
    const c = cost(body);
    assert.match(c.error ?? '', /decoded values would be too large for the body size/);
    // It stopped at the bound, not after 4.5 GB: one copy past it at most.
    assert.ok(c.decodedBytes <= expansionBound(body) + 45_000 + 64, `${c.decodedBytes}`);
  });

  it('decodes shared data that stays within the bound, each reference its own Buffer', () => {
    const c = cost(sharedObjectBomb({ kind: 'data', refs: 3, bytes: 100 }));
    const list = c.value as Buffer[];
    assert.equal(list.length, 3);
    assert.ok(list[0] !== list[1] && list[0]!.equals(list[1]!));
    list[0]![0] = 0;
    assert.equal(list[1]![0], 0xab, 'a change to one copy shows in no other');
  });

  it('honours a smaller maxExpansion', () => {
    const body = sharedObjectBomb({ refs: 20_000, bytes: 10 });
    assert.equal((decodePlist(body) as PlistValue[]).length, 20_000);
    assert.throws(
      () => decodePlist(body, { ...DEFAULT_PLIST_LIMITS, maxExpansion: 1 }),
      /decoded values would be too large for the body size/,
    );
  });
});

// ---------------------------------------------------------------------------------------
// Linear time

/** Hostile XML shapes, each a function of a target size in bytes. */
const SHAPES: Record<string, (size: number) => Buffer> = {
  'real: digits then a stray character': (n) => realBomb(n),
  'real: digits, a point, digits, then a stray character': (n) =>
    xmlDocument(`<real>${'1'.repeat(n / 2)}.${'1'.repeat(n / 2)}e</real>`),
  'real: valid, very long': (n) => xmlDocument(`<real>${'1'.repeat(n)}.5e-3</real>`),
  'integer: digits then a stray character': (n) => xmlDocument(`<integer>${'1'.repeat(n)}x</integer>`),
  'integer: leading zeros': (n) => xmlDocument(`<integer>${'0'.repeat(n)}7</integer>`),
  'integer: hex digits': (n) => xmlDocument(`<integer>0x${'f'.repeat(n)}</integer>`),
  'date: long fraction then a stray character': (n) =>
    xmlDocument(`<date>2024-05-06T07:08:09.${'1'.repeat(n)}x</date>`),
  'date: long fraction': (n) => xmlDocument(`<date>2024-05-06T07:08:09.${'1'.repeat(n)}Z</date>`),
  'data: base64 wrapped on short lines': (n) => xmlDocument(`<data>${'QUFB\n\t'.repeat(n / 6)}</data>`),
  'data: base64 then a stray character': (n) => xmlDocument(`<data>${'QUFB'.repeat(n / 4)}!</data>`),
  'data: padding then more': (n) => xmlDocument(`<data>QQ==${' '.repeat(n)}A</data>`),
  'string: many entities': (n) => xmlDocument(`<string>${'&amp;&#x41;&#66;'.repeat(n / 16)}</string>`),
  'string: ampersands without semicolons': (n) => xmlDocument(`<string>${'&aaaaaaaaa'.repeat(n / 10)}</string>`),
  'string: many comments and CDATA sections': (n) =>
    xmlDocument(`<string>${'a<!---->b<![CDATA[c]]>'.repeat(n / 22)}</string>`),
  'string: unterminated comment': (n) => xmlDocument(`<string>${'<!--'.repeat(n / 4)}</string>`),
  'string: whitespace only, trimmed': (n) => xmlDocument(`<integer>${' '.repeat(n)}1${' '.repeat(n)}</integer>`),
  'tag: huge attribute list': (n) => xmlDocument(`<string ${'a="b" '.repeat(n / 6)}>x</string>`),
  'tag: huge name': (n) => xmlDocument(`<${'a'.repeat(n)}>x</string>`),
  'tag: unterminated': (n) => xmlDocument(`<string${' '.repeat(n)}`),
  'tag: many stray less-than signs': (n) => xmlDocument(`<array>${'<'.repeat(n)}</array>`),
  'tag: closing tags with trailing space': (n) =>
    xmlDocument(`<array>${'<true    ></true    >'.repeat(n / 22)}</array>`),
  'dict: many keys': (n) => {
    const entries: string[] = [];
    for (let i = 0, len = 0; len < n; i++) {
      const e = `<key>k${i}</key><true/>`;
      entries.push(e);
      len += e.length;
    }
    return xmlDocument(`<dict>${entries.join('')}</dict>`);
  },
  'dict: long keys': (n) => xmlDocument(`<dict><key>${'k'.repeat(n)}</key><true/></dict>`),
  'array: many empty containers': (n) => xmlDocument(`<array>${'<dict/><array/>'.repeat(n / 15)}</array>`),
  'array: nested 30 deep, many values': (n) =>
    xmlDocument(`${'<array>'.repeat(30)}${'<false/>'.repeat(n / 8)}${'</array>'.repeat(30)}`),
  'prolog: many comments and processing instructions': (n) =>
    Buffer.from(`${'<!-- c --><?pi x?>'.repeat(n / 18)}<plist><true/></plist>`),
  'prolog: long DOCTYPE': (n) => Buffer.from(`<!DOCTYPE plist ${'x'.repeat(n)}><plist><true/></plist>`),
};

const SMALL = 64 * 1024;
const LARGE = 1024 * 1024;

describe('decodePlist: decode work grows linearly with the body, whatever its shape', () => {
  for (const [name, make] of Object.entries(SHAPES)) {
    it(name, () => {
      const small = make(SMALL);
      const large = make(LARGE);
      const a = cost(small);
      const b = cost(large);
      for (const [body, c] of [
        [small, a],
        [large, b],
      ] as const) {
        assert.ok(c.work <= WORK_PER_BYTE * body.length, `${c.work} work for ${body.length} bytes`);
        assert.ok(c.decodedBytes <= expansionBound(body), `${c.decodedBytes} decoded for ${body.length} bytes`);
      }
      // 16 times the body, at most 16 times the work (give or take what does not scale).
      const ratio = b.work / Math.max(a.work, 1);
      assert.ok(ratio <= 1.1 * (large.length / small.length), `work ratio ${ratio.toFixed(1)}`);
    });
  }

  it('holds for the binary bomb too: 16 times the references, at most 16 times the work', () => {
    const small = sharedObjectBomb({ refs: 6_000, bytes: 45_000 });
    const large = sharedObjectBomb({ refs: 96_000, bytes: 45_000 * 16 });
    const a = cost(small);
    const b = cost(large);
    assert.ok(a.work <= WORK_PER_BYTE * small.length && b.work <= WORK_PER_BYTE * large.length);
    assert.ok(b.work / a.work <= 1.1 * (large.length / small.length));
  });

  /**
   * The work counter only sees the decoder's own loops; this checks that nothing it calls
   * (regular expressions, Number, BigInt, Date, Buffer) hides super-linear time. It compares
   * one decode of a body with sixteen decodes of a body sixteen times smaller: about equal
   * when the time is linear, sixteen times apart when it is quadratic. The best of several
   * runs and a bound of eight times leave room for a busy machine (a dictionary of many keys
   * measures up to five times: V8 rehashes as it grows). Sizes are kept small so that a
   * quadratic regression fails in seconds instead of hanging.
   */
  it('and the time it takes grows like the work (one body or sixteen sixteenths of it)', () => {
    const best = (run: () => void): number => {
      let fastest = Infinity;
      for (let i = 0; i < 7; i++) {
        const started = performance.now();
        run();
        fastest = Math.min(fastest, performance.now() - started);
      }
      return fastest;
    };
    for (const name of [
      'real: digits then a stray character',
      'real: digits, a point, digits, then a stray character',
      'integer: digits then a stray character',
      'date: long fraction then a stray character',
      'data: base64 then a stray character',
      'string: many entities',
      'tag: huge attribute list',
      'dict: many keys',
    ]) {
      const make = SHAPES[name]!;
      const small = make(4 * 1024);
      const large = make(64 * 1024);
      const sixteenSmall = best(() => {
        for (let i = 0; i < 16; i++) cost(small);
      });
      const oneLarge = best(() => cost(large));
      assert.ok(
        oneLarge < 8 * Math.max(sixteenSmall, 0.2),
        `${name}: 16 × small ${sixteenSmall} ms, large ${oneLarge} ms`,
      );
    }
  });
});

// ---------------------------------------------------------------------------------------
// Fuzz

/** A small deterministic generator (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pieces of the plist grammar and of the inputs that have been slow for regex-based parsers. */
const TOKENS = [
  '<plist>',
  '</plist>',
  '<dict>',
  '</dict>',
  '<array>',
  '</array>',
  '<key>',
  '</key>',
  '<string>',
  '</string>',
  '<real>',
  '</real>',
  '<integer>',
  '</integer>',
  '<date>',
  '</date>',
  '<data>',
  '</data>',
  '<true/>',
  '<dict/>',
  '<!--',
  '-->',
  '<![CDATA[',
  ']]>',
  '<?',
  '?>',
  '&amp;',
  '&#x41;',
  '&',
  ';',
  '<',
  '>',
  '/',
  '=',
  ' ',
  '\n',
  '.',
  'e',
  '-',
  '+',
  'x',
  '0x',
  'Z',
  'T',
  ':',
  '2024-05-06T07:08:09',
  '1111111111',
  '0000000000',
  'QUFB',
  'inf',
];

/** Well-formed values with a run of hostile content inside, `k` long. */
const TEMPLATES: ((k: number, rand: () => number) => string)[] = [
  (k) => `<real>${'1'.repeat(k)}</real>`,
  (k) => `<real>${'7'.repeat(k)}.${'7'.repeat(k)}e</real>`,
  (k) => `<integer>${'0'.repeat(k)}1</integer>`,
  (k) => `<string>${'&amp;&#x41;'.repeat(k)}</string>`,
  (k) => `<string>${'a<!--b-->'.repeat(k)}</string>`,
  (k) => `<!--${'-'.repeat(k)}-->`,
  (k) => `<data>${'QUFB '.repeat(k)}</data>`,
  (k) => `<date>2024-05-06T07:08:09.${'9'.repeat(k)}Z</date>`,
  (k, rand) =>
    `<dict>${'<key>k</key><true/>'.repeat(Math.min(k, 1))}<key>${'k'.repeat(k)}${Math.floor(rand() * 1e9)}</key><false/></dict>`,
  (k) => `<string ${' a="b"'.repeat(k)}>x</string>`,
  () => '<true/>',
  () => '<array>',
  () => '</array>',
];

function fuzzBody(rand: () => number, size: number): Buffer {
  // Mostly well-formed values with long hostile runs inside (so the decoder gets far into
  // the body), sprinkled with grammar tokens out of place.
  const parts: string[] = ['<plist><array>'];
  let length = 14;
  while (length < size) {
    const k = rand() < 0.3 ? Math.floor(rand() * (size / 16)) + 1 : Math.floor(rand() * 8) + 1;
    const piece =
      rand() < 0.03
        ? TOKENS[Math.floor(rand() * TOKENS.length)]!.repeat(k)
        : TEMPLATES[Math.floor(rand() * TEMPLATES.length)]!(k, rand);
    parts.push(piece);
    length += piece.length;
  }
  return Buffer.from(parts.join(''), 'utf8');
}

describe('decodePlist: fuzzed hostile bodies', () => {
  it('always answer with a value or a PlistDecodeError, within linear work and the expansion bound', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = random(seed);
      const size = 256 + Math.floor(rand() * 32 * 1024);
      const body = fuzzBody(rand, size);
      const c = cost(body);
      assert.ok(c.work <= WORK_PER_BYTE * body.length + 64, `seed ${seed}: ${c.work} work for ${body.length} bytes`);
      assert.ok(c.decodedBytes <= expansionBound(body), `seed ${seed}: ${c.decodedBytes} decoded`);
    }
  });

  it('the fuzzed bodies reach past the first token (the generator is not trivially refused)', () => {
    // Without this, every body could fail at offset 0 and the test above would prove nothing.
    let deep = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const rand = random(seed);
      const body = fuzzBody(rand, 256 + Math.floor(rand() * 32 * 1024));
      if (cost(body).work > 1000) deep++;
    }
    assert.ok(deep >= 30, `${deep} of 300 fuzzed bodies got past their first kilobyte`);
  });

  it('binary bodies with random references and lengths stay within linear work and the bound', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = random(seed);
      const base = sharedObjectBomb({ refs: 200 + Math.floor(rand() * 5000), bytes: 1 + Math.floor(rand() * 5000) });
      const body = Buffer.from(base);
      // Corrupt a few bytes anywhere: markers, references, lengths, the trailer.
      for (let i = 0; i < 4; i++) body[Math.floor(rand() * body.length)] = Math.floor(rand() * 256);
      const c = cost(body);
      assert.ok(c.work <= WORK_PER_BYTE * body.length, `seed ${seed}: ${c.work} work for ${body.length} bytes`);
      assert.ok(c.decodedBytes <= expansionBound(body) + 5000 + 64, `seed ${seed}: ${c.decodedBytes} decoded`);
    }
  });
});

describe('decodePlist: scalar edge cases of the hand-written scanner', () => {
  const one = (inner: string): PlistValue => decodePlist(xmlDocument(inner));
  it('integers: 128-bit range, leading zeros and hex', () => {
    assert.equal(one(`<integer>${'0'.repeat(1000)}42</integer>`), 42);
    assert.equal(one('<integer>340282366920938463463374607431768211455</integer>'), (1n << 128n) - 1n);
    assert.equal(one('<integer>-170141183460469231731687303715884105728</integer>'), -(1n << 127n));
    assert.throws(() => one('<integer>340282366920938463463374607431768211456</integer>'), /out of range/);
    assert.throws(() => one('<integer>-170141183460469231731687303715884105729</integer>'), /out of range/);
    assert.throws(() => one(`<integer>${'9'.repeat(40)}</integer>`), /out of range/);
    assert.equal(one('<integer>0xffffffffffffffffffffffffffffffff</integer>'), (1n << 128n) - 1n);
    assert.throws(() => one('<integer>0x</integer>'), /not an integer/);
    assert.throws(() => one('<integer>0X1F</integer>'), /not an integer/);
    assert.throws(() => one('<integer>--1</integer>'), /not an integer/);
  });

  it('reals: every form the grammar allows, and nothing else', () => {
    assert.equal(one('<real>5.</real>'), 5);
    assert.equal(one('<real>-.25E+2</real>'), -25);
    assert.equal(one('<real>INF</real>'), Infinity);
    assert.equal(one('<real>-NaN</real>'), NaN);
    assert.equal(one(`<real>${'1'.repeat(400)}</real>`), Number('1'.repeat(400)));
    for (const bad of ['.', '-', '1e', '1e+', 'e5', '1.5.', 'infinit', '+-1', '0x10', '1 2']) {
      assert.throws(() => one(`<real>${bad}</real>`), /is not a number/, bad);
    }
  });

  it('dates: the fraction beyond milliseconds is read but does not change the date', () => {
    assert.deepStrictEqual(
      one(`<date>2024-05-06T07:08:09.123${'9'.repeat(1000)}Z</date>`),
      new Date('2024-05-06T07:08:09.123Z'),
    );
    assert.deepStrictEqual(one('<date>2024-05-06T07:08:09.5Z</date>'), new Date('2024-05-06T07:08:09.500Z'));
    for (const bad of [
      '2024-05-06T07:08:09.Z',
      '2024-05-06 07:08:09Z',
      '2024-5-06T07:08:09Z',
      '2024-05-06T07:08:09ZZ',
    ]) {
      assert.throws(() => one(`<date>${bad}</date>`), /is not an ISO 8601 UTC date/, bad);
    }
  });

  it('data: padding only at the end, whitespace anywhere', () => {
    assert.deepStrictEqual(one('<data> QQ\n= = </data>'), Buffer.from('A'));
    assert.throws(() => one('<data>QQ===</data>'), /not base64/);
    assert.throws(() => one('<data>QQ==QQ==</data>'), /not base64/);
    assert.throws(() => one('<data>QQ-_</data>'), /not base64/);
  });

  it('tags: attributes ignored, a stray < inside a tag refused', () => {
    assert.equal(one('<string a="1"  b=\'2\'>x</string >'), 'x');
    assert.throws(() => one('<string a="<">x</string>'), /malformed tag/);
    assert.throws(() => one('<string1>x</string1>'), /malformed tag/);
    assert.throws(() => one('<string>x</string a="1">'), /malformed closing tag/);
  });
});
