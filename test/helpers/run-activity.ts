/** Runs one of the saga's activities in a mocked activity context, as a given attempt. */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { ConnectActivities } from '../../common/activity-types.js';

// Expected failures are the point of many tests; keep the SDK's per-failure warnings out of the output.
const quietLogger = new DefaultLogger('ERROR');

/** `activities[name](input)` with `Context.current().info.attempt` set to `attempt`. */
export function runActivity<K extends keyof ConnectActivities>(
  activities: ConnectActivities,
  name: K,
  input: Parameters<ConnectActivities[K]>[0],
  attempt = 1,
): ReturnType<ConnectActivities[K]> {
  const env = new MockActivityEnvironment({ attempt, activityType: name }, { logger: quietLogger });
  const fn = activities[name] as (arg: typeof input) => ReturnType<ConnectActivities[K]>;
  return env.run(fn, input) as ReturnType<ConnectActivities[K]>;
}
