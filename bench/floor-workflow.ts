/**
 * The bench's floor: the saga's shape with no-op activities, so a figure can be set against what
 * Temporal alone costs on the same server and task-queue rate limit. Three (known user) or four (new
 * user) sequential steps before the URLs, the last one the instance create beside the codes, the
 * auth wait, two activities, the 2 s timer, one more; each with the saga's priority key.
 * Workflow code: bundled on its own, deterministic, nothing Node-only.
 */
import { condition, defineUpdate, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import { authCompletedSignal } from '../common/messages.js';
import { PRIORITY } from '../workflows/activity-stubs.js';

export interface FloorInput {
  slots: string[];
  newUser: boolean;
}

export interface FloorActivities {
  noop(step: string): Promise<void>;
}

/** Answers once the floor saga has its "URLs", like the API's wait for them. */
export const floorUrlsUpdate = defineUpdate<boolean>('floorUrls');

const { noop } = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });

const step = (name: string, priorityKey: number) =>
  noop.executeWithOptions({ priority: { priorityKey } }, [name]);

/** The floor saga: no-op steps in the real saga's order. */
export async function floorSaga(input: FloorInput): Promise<void> {
  let urls = false;
  const done = new Set<string>();
  setHandler(floorUrlsUpdate, async () => {
    await condition(() => urls);
    return true;
  });
  setHandler(authCompletedSignal, ({ externalAuthId }) => void done.add(externalAuthId));
  await step('findUser', PRIORITY.findUser);
  if (input.newUser) await step('createUser', PRIORITY.createUser);
  await step('prepareUserToken', PRIORITY.token);
  await Promise.all([step('createInstance', PRIORITY.urls), step('issueAuthCodes', PRIORITY.urls)]);
  urls = true;
  await condition(() => input.slots.every((slot) => done.has(slot)));
  await step('verifyAuths', PRIORITY.afterAuth);
  await step('attachAuths', PRIORITY.afterAuth);
  await sleep('2s');
  await step('enableInstance', PRIORITY.afterAuth);
}
