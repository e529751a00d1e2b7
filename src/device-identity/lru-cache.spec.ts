import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LruCache } from './lru-cache.js';

describe('LruCache', () => {
  it('never holds more than its limit and forgets the least recently used entry first', () => {
    const cache = new LruCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    assert.equal(cache.get('a'), 1); // a is now the most recently used
    cache.set('d', 4);
    assert.equal(cache.size, 3);
    assert.equal(cache.get('b'), undefined);
    assert.deepEqual(
      ['a', 'c', 'd'].map((k) => cache.get(k)),
      [1, 3, 4],
    );
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, i);
    assert.equal(cache.size, 3);
    assert.equal(cache.get('k99'), 99);
    assert.equal(cache.get('a'), undefined);
  });

  it('replaces the value of a key set again without growing', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('a', 2);
    cache.set('b', 3);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('a'), 2);
  });

  it('refuses a limit below 1', () => {
    assert.throws(() => new LruCache(0), RangeError);
  });
});
