/**
 * The worker's and the API's own configuration checks, run by `npm start` before it starts anything:
 * a bad TRAY_REGION, SHUTDOWN_GRACE or LOG_LEVEL is named at once, rather than by the worker after
 * the dev server, the emulator and the API came up. What npm start fills in itself later (the Temporal
 * address, the emulator's credentials) is stood in for.
 */
import { loadApiConfig } from '../api/config.js';
import { ConfigError, type ConfigProblem } from '../lib/config.js';
import { loadWorkerConfig } from '../worker/config.js';
import { childEnvs } from './child-env.js';

export interface ChildCheckInput {
  TEMPORAL_ADDRESS?: string;
  TEMPORAL_NAMESPACE: string;
  TEMPORAL_TASK_QUEUE: string;
  API_PORT: number;
  TRAY_MASTER_TOKEN?: string;
  TRAY_EMBEDDED_ID?: string;
}

/** Every problem either process would stop on, once each. */
export function childConfigProblems(
  env: ChildCheckInput,
  source: NodeJS.ProcessEnv = process.env,
): ConfigProblem[] {
  const { worker, api } = childEnvs(
    {
      temporalAddress: env.TEMPORAL_ADDRESS ?? 'localhost:7233',
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      apiPort: env.API_PORT,
      embeddedServer: !env.TEMPORAL_ADDRESS,
      tray: {
        masterToken: env.TRAY_MASTER_TOKEN ?? 'set-by-npm-start',
        embeddedId: env.TRAY_EMBEDDED_ID ?? 'set-by-npm-start',
        ...(env.TRAY_MASTER_TOKEN && source.WEBHOOK_SECRET ? { webhookSecret: source.WEBHOOK_SECRET } : {}),
      },
    },
    source,
  );
  const problems = new Map<string, ConfigProblem>();
  for (const load of [() => loadWorkerConfig(worker), () => loadApiConfig(api)]) {
    try {
      load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) problems.set(problem.variable, problem);
    }
  }
  return [...problems.values()];
}
