/** Runs one of the saga's activities in a mocked activity context, as a given attempt. */
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { ConnectActivities } from '../../common/activity-types.js';

// Expected failures are the point of many tests; keep the SDK's per-failure warnings out of the output.
const quietLogger = new DefaultLogger('ERROR');

/**
 * `activities[name](input)` with `Context.current().info.attempt` set to `attempt`, or with the given
 * info (heartbeat details, retry policy). Heartbeats the activity records go to `onHeartbeat`.
 */
export function runActivity<K extends keyof ConnectActivities>(
  activities: ConnectActivities,
  name: K,
  input: Parameters<ConnectActivities[K]>[0],
  attemptOrInfo: number | Partial<Info> = 1,
  onHeartbeat?: (details: unknown) => void,
): ReturnType<ConnectActivities[K]> {
  const info = typeof attemptOrInfo === 'number' ? { attempt: attemptOrInfo } : attemptOrInfo;
  const env = new MockActivityEnvironment({ ...info, activityType: name }, { logger: quietLogger });
  if (onHeartbeat) env.on('heartbeat', onHeartbeat);
  const fn = activities[name] as (arg: typeof input) => ReturnType<ConnectActivities[K]>;
  return env.run(fn, input) as ReturnType<ConnectActivities[K]>;
}
