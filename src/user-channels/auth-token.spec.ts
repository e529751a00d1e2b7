import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { authTokenMatches, hashAuthToken, newAuthToken } from './auth-token.js';

describe('AuthToken hashing', () => {
  it('stores the hex SHA-256 of the token, never the token', () => {
    const token = newAuthToken();
    assert.equal(Buffer.from(token, 'base64url').length, 32);
    assert.equal(hashAuthToken(token), createHash('sha256').update(token).digest('hex'));
    assert.notEqual(newAuthToken(), token);
  });

  it('matches only the token whose hash is stored', () => {
    const token = newAuthToken();
    const stored = hashAuthToken(token);
    assert.equal(authTokenMatches(token, stored), true);
    assert.equal(authTokenMatches(`${token}x`, stored), false);
    assert.equal(authTokenMatches('', stored), false);
    assert.equal(authTokenMatches(token, hashAuthToken('another')), false);
    // A stored value of the wrong length (damaged row) never matches and never throws.
    assert.equal(authTokenMatches(token, stored.slice(0, 10)), false);
    assert.equal(authTokenMatches(token, ''), false);
  });
});
