import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerReadError, childrenOf, isContextTag, octetStringOf, oidOf, readElement, TAG } from './ber-reader.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('ber-reader', () => {
  it('reads definite and indefinite lengths to the same children', () => {
    // SEQUENCE { OID 1.2.840.113549.1.7.1, [0] { OCTET STRING 'ab' } }
    const definite = hex('30 11 06 09 2a864886f70d010701 a0 04 04 02 6162');
    const indefinite = hex('30 80 06 09 2a864886f70d010701 a0 80 04 02 6162 0000 0000');
    for (const buf of [definite, indefinite]) {
      const outer = readElement(buf, 0, buf.length);
      assert.equal(outer.tag, TAG.SEQUENCE);
      assert.equal(outer.next, buf.length);
      const [oid, content] = childrenOf(buf, outer);
      assert.equal(oidOf(buf, oid), '1.2.840.113549.1.7.1');
      assert.ok(isContextTag(content, 0));
      assert.ok(!isContextTag(content, 1));
      assert.ok(content !== undefined);
      const [octets] = childrenOf(buf, content);
      assert.ok(octets !== undefined);
      assert.deepEqual(octetStringOf(buf, octets), Buffer.from('ab'));
    }
  });

  it('joins the segments of a constructed OCTET STRING', () => {
    const buf = hex('24 80 04 01 61 04 02 6263 0000');
    assert.deepEqual(octetStringOf(buf, readElement(buf, 0, buf.length)), Buffer.from('abc'));
  });

  it('decodes object identifiers and refuses malformed ones', () => {
    const oid = (s: string): string | undefined => {
      const buf = hex(s);
      return oidOf(buf, readElement(buf, 0, buf.length));
    };
    assert.equal(oid('06 03 55 1d 25'), '2.5.29.37');
    assert.equal(oid('06 05 2b 0e 03 02 1a'), '1.3.14.3.2.26');
    assert.equal(oid('06 00'), undefined);
    assert.equal(oid('06 02 2b 86'), undefined); // the last arc is unfinished
    assert.equal(oid('06 03 2b 80 01'), undefined); // non-minimal arc
    assert.equal(oid('04 01 2b'), undefined); // not an OID at all
  });

  it('throws BerReadError, never reads past the buffer, on truncated or inconsistent input', () => {
    for (const s of [
      '30',
      '30 05 02 01',
      '30 80 02 01 01',
      '04 80 00 00',
      '30 84 ffffffff',
      '30 85 0000000001',
      '1f',
    ]) {
      const buf = hex(s);
      assert.throws(
        () => {
          const el = readElement(buf, 0, buf.length);
          if (el.constructed) childrenOf(buf, el);
        },
        BerReadError,
        s,
      );
    }
    const primitive = hex('04 01 61');
    assert.throws(() => childrenOf(primitive, readElement(primitive, 0, primitive.length)), BerReadError);
  });
});
