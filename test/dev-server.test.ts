import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection } from '@temporalio/client';
import { freePort } from '../dev/dev-server.js';
import { devServer } from './helpers/temporal.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../common/messages.js';

test('the shared dev server has the search attributes registered', async () => {
  const { address, namespace } = await devServer();
  const connection = await Connection.connect({ address });
  try {
    const response = await connection.operatorService.listSearchAttributes({ namespace });
    for (const name of SEARCH_ATTRIBUTE_NAMES)
      assert.ok(response.customAttributes[name], `${name} registered`);
  } finally {
    await connection.close();
  }
});

test('freePort names a different port every time, though the OS offers a closed probe port again', async () => {
  // 500 plain bind-to-port-0 probes here repeat about 19 ports; a chaos run once got one port for two servers.
  const ports: number[] = [];
  for (let i = 0; i < 500; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length);
  assert.ok(ports.every((port) => port > 0 && port < 65536));
});
