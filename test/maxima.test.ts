/* eslint-disable @typescript-eslint/no-explicit-any -- answers are read loosely; the status shape is typed where it matters */
/**
 * A saga at the input's maxima end to end, over the emulator: 20 auth slots, every id and name 200
 * characters of astral, combining and right-to-left Unicode, configValues as large as the body allows.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SolutionSeed } from '../emulator/server.js';
import type { ConnectionStatus } from '../common/messages.js';
import { pollUntil } from './helpers/poll.js';
import { startStack } from './helpers/stack.js';
import { uniqueId } from './helpers/temporal.js';

/** 200 code points (not UTF-16 units) starting with `prefix`: emoji, e + combining acute, Hebrew, Arabic, math. */
function longId(prefix: string): string {
  const fill = ['😀', 'e', '\u0301', '\u05d0', '\u0627', '𝔘'];
  const chars = [...prefix, '-'];
  while (chars.length < 200) chars.push(fill[chars.length % fill.length] as string);
  return chars.join('');
}

const SLOTS = Array.from({ length: 20 }, (_, i) => longId(`slot${i}`));
const CONFIG_IDS = Array.from({ length: 18 }, (_, i) => longId(`cfg${i}`));
const SOLUTION: SolutionSeed = {
  id: longId(`sol${uniqueId('')}`),
  title: 'Maxima',
  authSlots: SLOTS.map((externalId) => ({ externalId, serviceName: 'slack', serviceTitle: 'Slack' })),
  configSlots: CONFIG_IDS.map((externalId) => ({ externalId, title: 'c', defaultValue: null })),
};

const stack = await startStack({ emulator: { solutions: [SOLUTION] } });
after(() => stack.close());

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: stack.headers(),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as any };
}

describe('a saga at the maxima', () => {
  test('20 slots of 200-character Unicode ids and large configValues complete end to end', async () => {
    const externalUserId = longId(uniqueId('u'));
    const configValues = CONFIG_IDS.map((externalId, i) => ({
      externalId,
      value: { nested: { list: [longId(`v${i}`), longId(`w${i}`), longId(`x${i}`)], n: i, ok: true } },
    }));
    const input = {
      externalUserId,
      userName: longId('name'),
      solutionId: SOLUTION.id,
      instanceName: longId('instance'),
      authSlots: SLOTS,
      configValues,
      authTimeout: '30d',
    };
    const size = Buffer.byteLength(JSON.stringify(input));
    assert.ok(size > 45_000 && size < 64 * 1024, `${size} bytes`);

    const post = await call('POST', '/v1/connections', input);
    assert.equal(post.status, 201, post.text.slice(0, 500));
    const status = post.body as ConnectionStatus;
    assert.equal(status.step, 'awaiting_auth');
    assert.deepEqual(
      status.authSlots.map((s) => s.externalAuthId),
      SLOTS,
    );
    for (const slot of status.authSlots) assert.match(slot.url ?? '', /\?code=/);
    const id = encodeURIComponent(status.connectionId);

    // Found by its 200-character keyword attributes.
    const listed = await pollUntil(
      async () => {
        const res = await call(
          'GET',
          `/v1/connections?externalUserId=${encodeURIComponent(externalUserId)}&solutionId=${encodeURIComponent(SOLUTION.id)}`,
        );
        assert.equal(res.status, 200, res.text.slice(0, 500));
        return res.body.connections.length === 1 ? res.body.connections[0] : undefined;
      },
      { timeoutMs: 30_000, what: 'the saga to be listed' },
    );
    assert.equal(listed.connectionId, status.connectionId);

    // While it waits: the Web UI's details name all 20 pending slots, escaped, in the markdown.
    const handle = stack.client.workflow.getHandle(status.connectionId);
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(metadata.currentDetails ?? '', /Pending slots:/);
    for (const slot of SLOTS) assert.ok(metadata.currentDetails?.includes(slot), 'every slot named');

    // Asking again as a partner page would on each view: answered, and the history grows no further.
    const before = await handle.describe();
    for (let i = 0; i < 5; i++) {
      const again = await call('POST', '/v1/connections', input);
      assert.equal(again.status, 200, again.text.slice(0, 500));
    }
    assert.equal((await handle.describe()).historyLength, before.historyLength);

    const reissued = await call('POST', `/v1/connections/${id}/auth-urls/${encodeURIComponent(SLOTS[19]!)}`);
    assert.equal(reissued.status, 200, reissued.text.slice(0, 500));
    assert.equal(reissued.body.externalAuthId, SLOTS[19]);

    for (const externalAuthId of SLOTS) {
      const authId = stack.emulator.emulator.store.createAuthentication(status.userId!, 'slack');
      const signed = stack.signWebhook({ connectionId: status.connectionId, externalAuthId, authId });
      const hook = await fetch(stack.webhookUrl, {
        method: 'POST',
        headers: signed.headers,
        body: signed.body,
      });
      assert.equal(hook.status, 202, await hook.text());
    }
    const done = await pollUntil(
      async () => {
        const res = await call('GET', `/v1/connections/${id}`);
        return res.body.step === 'completed' || res.body.step === 'failed' ? res.body : undefined;
      },
      { timeoutMs: 60_000, what: 'the saga to end' },
    );
    assert.equal(done.step, 'completed', JSON.stringify(done.error));
    const instance = stack.emulator.emulator.store.instances.get(status.solutionInstanceId!);
    assert.equal(instance?.enabled, true);

    // Far inside the history guard (10,000 events / 10 MB) even at these sizes.
    const { historyLength, historySize = 0 } = await handle.describe();
    assert.ok(historyLength < 400 && historySize < 2 * 1024 * 1024, `${historyLength} / ${historySize}`);
  });
});
