/**
 * The bench's floor: the saga's shape with no-op activities, so a figure can be set against what
 * Temporal alone costs on the same server and task-queue rate limit. Four (known user) or five (new
 * user) sequential activities before the URLs, the auth wait, two activities, the 2 s timer, one
 * more. Workflow code: bundled on its own, deterministic, nothing Node-only.
 */
import { condition, defineUpdate, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import { authCompletedSignal } from '../common/messages.js';

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

/** The floor saga: no-op steps in the real saga's order. */
export async function floorSaga(input: FloorInput): Promise<void> {
  let urls = false;
  const done = new Set<string>();
  setHandler(floorUrlsUpdate, async () => {
    await condition(() => urls);
    return true;
  });
  setHandler(authCompletedSignal, ({ externalAuthId }) => void done.add(externalAuthId));
  const before = input.newUser
    ? ['findUser', 'createUser', 'prepareUserToken', 'createInstance', 'issueCodes']
    : ['findUser', 'prepareUserToken', 'createInstance', 'issueCodes'];
  for (const step of before) await noop(step);
  urls = true;
  await condition(() => input.slots.every((slot) => done.has(slot)));
  await noop('listAuthentications');
  await noop('attachAuths');
  await sleep('2s');
  await noop('enableInstance');
}
