/**
 * POST's wait on a Temporal server that refuses workflow updates (an older server, or a namespace with
 * them switched off): the saga is started as a plain start would, and its `status` query is asked
 * until the URLs are there. Slower and heavier than the update, but the partner still gets its URLs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { hasAuthUrls } from '../common/status-view.js';
import type { ConnectionStatus } from '../common/messages.js';
import { getConnectionStatus } from './saga-reads.js';
import { isDraining, QUERY_TIMEOUT_MS } from './temporal-rpc.js';

/**
 * Pause between two looks: short at first, as URLs usually come within a second or two, then
 * doubling to at most a second, so a saga slow to its URLs costs the server a look a second.
 */
const FIRST_PAUSE_MS = 250;
const MAX_PAUSE_MS = 1_000;

/**
 * The status once every slot has a URL, the saga moved past issuing them or closed, or `deadline`
 * passed or the API drains (then the status as it stands).
 */
export async function waitForUrlsByQuery(
  client: Client,
  connectionId: string,
  deadline: number,
): Promise<ConnectionStatus> {
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
    const queryMs = Math.max(0, Math.min(QUERY_TIMEOUT_MS, deadline - Date.now()));
    const status = await getConnectionStatus(client, connectionId, queryMs);
    const left = deadline - Date.now();
    if (hasAuthUrls(status) || isDraining() || left <= 0) return status;
    // The last look comes at the deadline, not up to a pause before it.
    await sleep(Math.min(pause, left));
  }
}
