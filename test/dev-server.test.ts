import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection } from '@temporalio/client';
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
