/**
 * Looks for plaintext secrets in workflow histories: every payload's bytes are decoded (a JSON view
 * of the history would show them as base64 and hide a token), and every string field is read too.
 */
import type { Client } from '@temporalio/client';
import type { Secrets } from './stack.js';

// A user token as the emulator mints it; the lookarounds keep a sealed (random) blob from matching.
const USER_TOKEN = /(?<![A-Za-z0-9_-])ut_[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])/;

/** Every string and byte array in `value`, bytes decoded as UTF-8. */
function texts(value: unknown, out: string[], depth = 0): void {
  if (depth > 64 || value === null || value === undefined) return;
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const item of value) texts(item, out, depth + 1);
  else if (typeof value === 'object') for (const v of Object.values(value)) texts(v, out, depth + 1);
}

/** What a secret found in `text` is, or undefined. */
export function secretIn(text: string, secrets: Secrets): string | undefined {
  if (USER_TOKEN.test(text)) return 'a user token';
  if (text.includes(secrets.masterToken)) return 'the master token';
  if (text.includes(secrets.webhookSecret.slice('whsec_'.length))) return 'the webhook secret';
  return undefined;
}

/** Workflow ids (with what leaked) whose history holds a plaintext secret; unreadable ones are named too. */
export async function leakyHistories(client: Client, ids: string[], secrets: Secrets): Promise<string[]> {
  const found: string[] = [];
  for (const id of ids) {
    try {
      const history = await client.workflow.getHandle(id).fetchHistory();
      const all: string[] = [];
      texts(history, all);
      const leak = all.map((t) => secretIn(t, secrets)).find((s) => s !== undefined);
      if (leak) found.push(`${id}: ${leak}`);
    } catch (error) {
      found.push(`${id}: history unreadable (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  return found;
}
