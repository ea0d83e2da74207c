/**
 * POST's wait on a Temporal server that refuses workflow updates (an older server, or a namespace with
 * them switched off): the saga is started as a plain start would, and its `status` query is asked
 * until the URLs are there. Slower and heavier than the update, but the partner still gets its URLs.
 */
import type { Client } from '@temporalio/client';
import { hasAuthUrls } from '../common/status-view.js';
import type { ConnectionStatus } from '../common/messages.js';
import { getConnectionStatus } from './saga-reads.js';
import { isDraining, QUERY_TIMEOUT_MS } from './temporal-rpc.js';

/** Pause between two looks: short against a partner's wait, long against the server's load. */
const LOOK_EVERY_MS = 250;

/**
 * The status once every slot has a URL, the saga moved past issuing them or closed, or `deadline`
 * passed or the API drains (then the status as it stands).
 */
export async function waitForUrlsByQuery(
  client: Client,
  connectionId: string,
  deadline: number,
): Promise<ConnectionStatus> {
  for (;;) {
    const left = deadline - Date.now();
    const status = await getConnectionStatus(
      client,
      connectionId,
      Math.max(0, Math.min(QUERY_TIMEOUT_MS, left)),
    );
    if (hasAuthUrls(status) || isDraining() || deadline - Date.now() <= LOOK_EVERY_MS) return status;
    await new Promise((resolve) => setTimeout(resolve, LOOK_EVERY_MS));
  }
}
