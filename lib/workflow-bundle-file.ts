/**
 * The workflow bundle as a file: the image build writes it once (`npm run build`), and a worker with
 * WORKFLOW_BUNDLE_PATH set loads it instead of running webpack at every start.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { existingFile, readEnv } from './config.js';
import { bundleConnectWorkflows, type BundleOptions } from './workflow-bundle.js';

/** The variable for `readEnv`: optional, and a path that names no file is a problem naming it. */
export const WORKFLOW_BUNDLE_ENV = {
  WORKFLOW_BUNDLE_PATH: existingFile('build it with npm run build', { optional: true }),
};

/**
 * The prebuilt bundle named by WORKFLOW_BUNDLE_PATH, else one bundled from source now (as
 * `npm run worker` does). A path that names no file is a configuration error naming the variable.
 * The prebuilt file holds the plain bundle: payload encryption (its failure converter) and tracing
 * (its interceptors) need their own, so with either on the worker bundles at start.
 */
export async function loadConnectWorkflowBundle(
  options: BundleOptions = {},
  env: Record<string, string | undefined> = process.env,
): Promise<WorkflowBundleOption> {
  const plain = !options.failureConverterPath && !options.interceptorModules?.length;
  const codePath = plain ? readEnv(WORKFLOW_BUNDLE_ENV, env).WORKFLOW_BUNDLE_PATH : undefined;
  return codePath ? { codePath } : bundleConnectWorkflows(options);
}

/** Bundles workflows/index.ts (with an inline source map) and writes it to `outPath`. */
export async function writeConnectWorkflowBundle(outPath: string): Promise<{ path: string; bytes: number }> {
  const { code } = await bundleConnectWorkflows();
  const path = resolve(outPath);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, code);
  return { path, bytes: Buffer.byteLength(code) };
}
