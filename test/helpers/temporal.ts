/**
 * Real Temporal servers for the tests. `npm test` (test/run.ts) starts one dev server for the whole
 * run and passes its address in CONNECT_SAGA_TEST_TEMPORAL_ADDRESS; a test file run on its own starts
 * a server of its own, once per process.
 */
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDevServer } from '../../dev/dev-server.js';
import { quietRuntime } from '../../dev/in-process.js';
import { findTestServer, locateTemporalBinary, TEMPORAL_CLI } from '../../dev/temporal-bin.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../../common/messages.js';
import { SearchAttributeType } from '@temporalio/common';

export const ADDRESS_ENV = 'CONNECT_SAGA_TEST_TEMPORAL_ADDRESS';

let shared: Promise<{ address: string; namespace: string }> | undefined;

/** Address of a dev server with the project's search attributes registered. */
export function devServer(): Promise<{ address: string; namespace: string }> {
  shared ??= (async () => {
    const fromRunner = process.env[ADDRESS_ENV];
    if (fromRunner) return { address: fromRunner, namespace: 'default' };
    const { path } = await locateTemporalBinary(TEMPORAL_CLI);
    if (path) {
      const server = await startDevServer({ cliPath: path });
      // Not after(): that would bind the server's life to whichever test or hook asked first. The
      // server lives as long as this test file's process and dies with it.
      server.process.unref();
      process.once('exit', () => server.process.kill('SIGKILL'));
      return { address: server.address, namespace: server.namespace };
    }
    // Last resort (README, "Temporal binaries"): the SDK's own download.
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        searchAttributes: SEARCH_ATTRIBUTE_NAMES.map((name) => ({ name, type: SearchAttributeType.KEYWORD })),
      },
    });
    process.once('beforeExit', () => void env.teardown());
    return { address: env.address, namespace: env.namespace ?? 'default' };
  })();
  return shared;
}

/**
 * A time-skipping test server environment, from the found binary (or the SDK's download when none is
 * found). The caller tears it down.
 */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  let path: string | undefined;
  try {
    path = await findTestServer();
  } catch {
    path = undefined;
  }
  const options = path ? { server: { executable: { type: 'existing-path' as const, path } } } : {};
  try {
    return await TestWorkflowEnvironment.createTimeSkipping(options);
  } catch {
    // The SDK gives the server a fixed few seconds to come up; a loaded machine can miss that once.
    return TestWorkflowEnvironment.createTimeSkipping(options);
  }
}

/** An id no other test uses: for task queues, workflow ids, external user ids. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/**
 * The SDK runtime for a test file that runs workers: errors only, from the SDK's logger and from its
 * Rust core, whose console lines (a WARN on every worker start against the time-skipping server)
 * would otherwise crowd the test report.
 */
export function installQuietRuntime(): void {
  quietRuntime('ERROR');
}
