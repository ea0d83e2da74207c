/** The API's instance → saga memo (api/instance-routes.ts): bounded, newest kept, blanks ignored. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InstanceRoutes } from '../api/instance-routes.js';

test('remembers the latest owner of an instance and forgets the oldest route over the limit', () => {
  const routes = new InstanceRoutes(2);
  routes.remember('inst-1', 'conn-a');
  routes.remember('inst-2', 'conn-b');
  routes.remember('inst-1', 'conn-c');
  assert.equal(routes.connectionFor('inst-1'), 'conn-c');
  routes.remember('inst-3', 'conn-d');
  assert.equal(routes.size, 2);
  assert.equal(routes.connectionFor('inst-2'), undefined, 'the least recently noted route went first');
  assert.equal(routes.connectionFor('inst-1'), 'conn-c');
  assert.equal(routes.connectionFor('inst-3'), 'conn-d');
});

test('a status without an instance id (before the create) notes nothing', () => {
  const routes = new InstanceRoutes();
  routes.remember(undefined, 'conn-a');
  routes.remember('', 'conn-a');
  assert.equal(routes.size, 0);
});
