import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerLimitError, checkBerLimits } from './ber-limits.js';
import { toIndefiniteOuter } from './cms-signer.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('checkBerLimits', () => {
  it('accepts DER and the same structure with indefinite lengths', () => {
    const der = hex('30 0a 02 01 01 30 05 04 03 61 62 63');
    checkBerLimits(der);
    checkBerLimits(toIndefiniteOuter(der, 2));
    assert.deepEqual(toIndefiniteOuter(der, 2), hex('30 80 02 01 01 30 80 04 03 61 62 63 00 00 00 00'));
  });

  it('refuses nesting deeper than the limit, definite or indefinite', () => {
    const deep = Buffer.concat([hex('30 80'.repeat(30)), Buffer.alloc(60)]);
    assert.throws(() => checkBerLimits(deep, { maxDepth: 24, maxElements: 1000 }), BerLimitError);
    let definite = hex('05 00');
    for (let i = 0; i < 30; i++) definite = Buffer.concat([Buffer.from([0x30, definite.length]), definite]);
    assert.throws(() => checkBerLimits(definite, { maxDepth: 24, maxElements: 1000 }), /deeper/);
    checkBerLimits(definite, { maxDepth: 40, maxElements: 1000 });
  });

  it('refuses too many elements', () => {
    const body = Buffer.concat(Array.from({ length: 50 }, () => hex('05 00')));
    const seq = Buffer.concat([Buffer.from([0x30, body.length]), body]);
    checkBerLimits(seq, { maxDepth: 4, maxElements: 51 });
    assert.throws(() => checkBerLimits(seq, { maxDepth: 4, maxElements: 50 }), /more than 50 elements/);
  });

  it('refuses truncation, overlong lengths, trailing bytes and indefinite primitives', () => {
    assert.throws(() => checkBerLimits(hex('30 05 02 01')), /runs past/);
    assert.throws(() => checkBerLimits(hex('30 85 ff ff ff ff ff')), /length too large/);
    assert.throws(() => checkBerLimits(hex('05 00 00')), /bytes after/);
    assert.throws(() => checkBerLimits(hex('04 80 00 00')), /indefinite length on a primitive/);
    assert.throws(() => checkBerLimits(hex('30 80 05 00')), /missing end-of-contents/);
    assert.throws(() => checkBerLimits(hex('30')), /truncated/);
  });
});
