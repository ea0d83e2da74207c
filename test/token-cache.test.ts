import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserTokenCache } from '../activities/token-cache.js';

test('a user token is reused across the default 24 h auth wait, then minted again', () => {
  let now = 0;
  const cache = new UserTokenCache({ now: () => now });
  cache.set('user-1', 'token-1');
  now = 24 * 60 * 60 * 1000 - 1;
  assert.equal(cache.get('user-1'), 'token-1', 'still cached just before 24 h');
  now += 1;
  assert.equal(cache.get('user-1'), undefined, 'gone at 24 h');
});

test('the cache forgets the oldest users beyond its bound', () => {
  const cache = new UserTokenCache({ maxEntries: 2 });
  cache.set('a', 'ta');
  cache.set('b', 'tb');
  cache.set('c', 'tc');
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.get('b'), 'tb');
  assert.equal(cache.get('c'), 'tc');
});
