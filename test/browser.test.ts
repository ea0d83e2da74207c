/**
 * The newcomer's path in a real browser: start a 2-slot saga through the API, open each dialog URL,
 * click Authorize, see "Connected", watch the saga complete, then find it in the Temporal Web UI by
 * TrayExternalUserId and read its current details there. Drives Debian's Chromium through
 * playwright-core; screenshots of every page land in test-artifacts/browser/.
 *
 * Runs its own Temporal dev server, with the Web UI on a free port (the test runner's shared one is
 * headless), and points the in-process stack at it.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import type { ConnectionStatus } from '../common/messages.js';
import { startDevServer, type DevServer } from '../dev/dev-server.js';
import { findTemporalCli, PROJECT_ROOT } from '../dev/temporal-bin.js';
import { CHROMIUM, haveChromium, launchChromium, skipWithoutChromium } from './helpers/chromium.js';
import { pollUntil } from './helpers/poll.js';
import { startStack, type Stack } from './helpers/stack.js';
import { ADDRESS_ENV, uniqueId } from './helpers/temporal.js';

const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts', 'browser');

describe('the browser walkthrough', { skip: skipWithoutChromium }, () => {
  let temporal: DevServer | undefined;
  let stack: Stack | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let context: BrowserContext | undefined;

  before(async () => {
    if (!haveChromium) return;
    await mkdir(ARTIFACTS, { recursive: true });
    // uiPort 0: a free one, a fresh one if another process takes it before the server binds it.
    temporal = await startDevServer({ cliPath: await findTemporalCli(), uiPort: 0 });
    // The stack helper takes its Temporal server from this variable; this file's server has the UI.
    process.env[ADDRESS_ENV] = temporal.address;
    stack = await startStack();
    browser = await launchChromium();
    context = browser.context;
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
    await temporal?.stop();
  });

  test('authorize both slots of sol-2 in the dialog, then find the completed saga in the Temporal UI', async () => {
    assert.ok(
      haveChromium,
      `Chromium is required in CI but ${CHROMIUM} does not exist (apt-get install chromium)`,
    );
    assert.ok(stack && context && temporal?.uiUrl);
    const externalUserId = uniqueId('browser-user');

    const created = await fetch(`${stack.apiUrl}/v1/connections?wait=30`, {
      method: 'POST',
      headers: stack.headers(),
      body: JSON.stringify({
        externalUserId,
        userName: 'Browser Test',
        solutionId: 'sol-2',
        authSlots: ['salesforce', 'slack'],
      }),
    });
    const status = (await created.json()) as ConnectionStatus;
    assert.equal(created.status, 201, JSON.stringify(status));
    assert.equal(status.step, 'awaiting_auth');
    assert.deepEqual(
      status.authSlots.map((slot) => slot.externalAuthId),
      ['salesforce', 'slack'],
    );

    const page = await context.newPage();
    for (const slot of status.authSlots) {
      assert.ok(slot.url, `slot ${slot.externalAuthId} has a dialog URL`);
      assert.ok(slot.url.startsWith(stack.emulator.url), `${slot.url} is the emulator's dialog`);
      await page.goto(slot.url);
      await page.getByRole('button', { name: 'Authorize' }).waitFor({ timeout: 30_000 });
      await shot(page, `dialog-${slot.externalAuthId}`);
      await page.getByRole('button', { name: 'Authorize' }).click();
      await page.getByText('Connected').first().waitFor({ timeout: 30_000 });
      await shot(page, `connected-${slot.externalAuthId}`);
    }

    const connectionUrl = `${stack.apiUrl}/v1/connections/${encodeURIComponent(status.connectionId)}`;
    const done = await pollUntil(
      async () => {
        const response = await fetch(connectionUrl, { headers: stack?.headers() });
        const body = (await response.json()) as ConnectionStatus;
        return body.step === 'completed' || body.step === 'failed' ? body : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `${status.connectionId} to complete` },
    );
    assert.equal(done.step, 'completed', JSON.stringify(done));
    assert.ok(done.authSlots.every((slot) => slot.state === 'completed' && slot.authId));

    // The Temporal Web UI, filtered by the search attribute an operator would use.
    const query = encodeURIComponent(`TrayExternalUserId="${externalUserId}"`);
    const listUrl = `${temporal.uiUrl}/namespaces/${stack.namespace}/workflows?query=${query}`;
    const link = page.getByRole('link', { name: status.connectionId }).first();
    // Visibility is eventually consistent: reload the list until the saga shows up.
    await pollUntil(
      async () => {
        await page.goto(listUrl);
        await link.waitFor({ timeout: 5_000 });
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `${status.connectionId} in the UI's workflow list` },
    );
    await shot(page, 'ui-workflow-list');
    await link.click();
    await page.waitForURL(/\/workflows\/[^/]+\/[^/]+/, { timeout: 30_000 });

    // The saga's current details (setCurrentDetails, markdown) end on the final step.
    // The UI shows them (from the __temporal_workflow_metadata query, so the worker must still run)
    // on the workflow's "User Metadata" tab, rendered from markdown inside a sandboxed iframe.
    await page.getByText('User Metadata', { exact: true }).first().click();
    let detailsText: string;
    try {
      detailsText = await pollUntil(
        async () => {
          for (const frame of page.frames()) {
            const text = await frame
              .locator('body')
              .innerText({ timeout: 1_000 })
              .catch(() => '');
            if (/Step:/.test(text) && frame !== page.mainFrame()) return text;
          }
          return undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250, what: 'the current details on the workflow page' },
      );
    } finally {
      await shot(page, 'ui-workflow-page');
    }
    assert.match(detailsText, /Step:\s*completed/, 'the current details show the final step');
    const text = await page.locator('body').innerText();
    assert.ok(text.includes(status.connectionId), 'the page is the saga');
  });
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
