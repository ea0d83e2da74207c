/**
 * The operator's view of an encrypted saga: the dev server's Web UI is started with the API's
 * /codec as its codec endpoint (`--ui-codec-endpoint`, as `npm start` does with
 * PAYLOAD_ENCRYPTION_KEYS set), and shows the saga's decrypted input although history holds only
 * ciphertext. Screenshots land in test-artifacts/browser/.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import type { ConnectionStatus } from '../common/messages.js';
import { startDevServer, type DevServer } from '../dev/dev-server.js';
import { withFreshPorts } from './helpers/fresh-ports.js';
import { parseEncryptionKeys } from '../lib/payload-codec.js';
import { findTemporalCli, PROJECT_ROOT } from '../dev/temporal-bin.js';
import { haveChromium, launchChromium, skipWithoutChromium } from './helpers/chromium.js';
import { pollUntil } from './helpers/poll.js';
import { startStack, type Stack } from './helpers/stack.js';
import { ADDRESS_ENV, uniqueId } from './helpers/temporal.js';

const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts', 'browser');

describe('the Web UI with the codec endpoint', { skip: skipWithoutChromium }, () => {
  let temporal: DevServer | undefined;
  let stack: Stack | undefined;
  let browser: { context: BrowserContext; close(): Promise<void> } | undefined;

  before(async () => {
    if (!haveChromium) return;
    await mkdir(ARTIFACTS, { recursive: true });
    const parsed = parseEncryptionKeys(`ui:${randomBytes(32).toString('base64')}`);
    assert.ok('value' in parsed);
    const keys = parsed.value;
    // The UI is told the API's codec URL before the API listens: should another process take the
    // API's port meanwhile, both start again on fresh ports.
    temporal = await withFreshPorts(['api'], async ({ api: apiPort }) => {
      const server = await startDevServer({
        cliPath: await findTemporalCli(),
        uiPort: 0,
        uiCodecEndpoint: `http://127.0.0.1:${apiPort}/codec`,
      });
      try {
        stack = await startStack({
          // The Web UI cannot send the API's bearer token; a loopback-only API is what `npm start` runs.
          apiToken: null,
          apiPort,
          temporal: server,
          encryption: { keys, corsOrigins: [new URL(server.uiUrl!).origin] },
        });
      } catch (error) {
        await server.stop();
        throw error;
      }
      return server;
    });
    // Helpers that take their Temporal server from this variable: this file's, which has the UI.
    process.env[ADDRESS_ENV] = temporal.address;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
    await temporal?.stop();
  });

  test("shows the decrypted input of an encrypted saga on the workflow's page", async () => {
    assert.ok(haveChromium, 'Chromium is required in CI (apt-get install chromium)');
    assert.ok(stack && browser && temporal?.uiUrl);
    const userName = `Codec Viewer ${randomBytes(3).toString('hex')}`;
    const created = await fetch(`${stack.apiUrl}/v1/connections?wait=30`, {
      method: 'POST',
      headers: stack.headers(),
      body: JSON.stringify({
        externalUserId: uniqueId('browser-codec'),
        userName,
        solutionId: 'sol-1',
        authSlots: ['slack'],
      }),
    });
    const status = (await created.json()) as ConnectionStatus;
    assert.equal(created.status, 201, JSON.stringify(status));
    const handle = stack.client.workflow.getHandle(status.connectionId, status.runId);
    const [started] = (await handle.fetchHistory()).events ?? [];
    const stored = started?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    assert.ok(stored && !Buffer.from(stored).includes(userName), 'the stored input is ciphertext');

    const page = await browser.context.newPage();
    const url = `${temporal.uiUrl}/namespaces/${stack.namespace}/workflows/${encodeURIComponent(status.connectionId)}/${status.runId}/history`;
    try {
      await pollUntil(
        async () => {
          await page.goto(url);
          await page.getByText(userName).first().waitFor({ timeout: 10_000 });
          return true;
        },
        { timeoutMs: 60_000, intervalMs: 500, what: `the decoded input (${userName}) on the workflow page` },
      );
    } finally {
      await page.screenshot({ path: join(ARTIFACTS, 'ui-codec-input.png'), fullPage: true });
      await handle.cancel();
    }
  });
});
