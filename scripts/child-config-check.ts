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
  API_TOKEN?: string;
  CODEC_API_TOKEN?: string;
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
      ...(env.API_TOKEN ? { apiToken: env.API_TOKEN } : {}),
      ...(env.CODEC_API_TOKEN ? { codecApiToken: env.CODEC_API_TOKEN } : {}),
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

/**
 * `npm start`'s own variables, read by `read`, checked together with the worker's and the API's: one
 * ConfigError names every problem of the three. While one of its own is bad, the children are checked
 * over that variable's default, so their problems are in the same message.
 */
export function checkedStartEnv<E extends ChildCheckInput>(
  read: (env: NodeJS.ProcessEnv) => E,
  source: NodeJS.ProcessEnv = process.env,
): E {
  const problems = new Map<string, ConfigProblem>();
  let env: E | undefined;
  try {
    env = read(source);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) problems.set(problem.variable, problem);
  }
  const usable =
    env ?? read(Object.fromEntries(Object.entries(source).filter(([name]) => !problems.has(name))));
  if (usable.TRAY_MASTER_TOKEN && !usable.TRAY_EMBEDDED_ID) {
    const problem = 'is required when TRAY_MASTER_TOKEN is set (real Tray)';
    problems.set('TRAY_EMBEDDED_ID', { variable: 'TRAY_EMBEDDED_ID', problem });
  }
  for (const problem of childConfigProblems(usable, source))
    if (!problems.has(problem.variable)) problems.set(problem.variable, problem);
  if (problems.size > 0) throw new ConfigError([...problems.values()]);
  return usable;
}
