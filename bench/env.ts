/**
 * The environment the bench reads besides its flags, read as the worker reads it (blank is unset) and
 * checked before any server starts, so a typo is named at once rather than after the set-up.
 */
import { DEV_TASK_QUEUE_PARTITIONS } from '../dev/dev-server.js';
import { readEnv, wholeNumber } from '../lib/config.js';
import { WORKER_ENV } from '../worker/config.js';

export const BENCH_ENV = {
  // The bench's own dev server has one partition; a server of yours says so through the variable.
  TEMPORAL_TASK_QUEUE_PARTITIONS: wholeNumber({ default: DEV_TASK_QUEUE_PARTITIONS }),
  // The worker's own rule: the bench hands the value on to its workers, which must take it.
  WORKER_MAX_CACHED_WORKFLOWS: WORKER_ENV.WORKER_MAX_CACHED_WORKFLOWS,
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: WORKER_ENV.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
};

export interface BenchEnv {
  /** Sizes the task-queue rate limit of every worker the bench runs. */
  taskQueuePartitions: number;
  /** Handed to the worker processes of the API modes. */
  maxCachedWorkflows: number;
  /** Handed to the worker processes of the API modes. */
  maxWorkflowTasks: number;
}

/** Reads and checks the bench's variables; throws a ConfigError naming every bad one. */
export function readBenchEnv(env: NodeJS.ProcessEnv = process.env): BenchEnv {
  const values = readEnv(BENCH_ENV, env);
  return {
    taskQueuePartitions: values.TEMPORAL_TASK_QUEUE_PARTITIONS,
    maxCachedWorkflows: values.WORKER_MAX_CACHED_WORKFLOWS,
    maxWorkflowTasks: values.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
  };
}
