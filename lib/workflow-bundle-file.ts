/**
 * The workflow bundle as a file: the image build writes it once (`npm run build`), and a worker with
 * WORKFLOW_BUNDLE_PATH set loads it instead of running webpack at every start.
 */
import { readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { envVar, readEnv } from './config.js';
import { makeFolders } from './make-folders.js';
import { bundleConnectWorkflows, type BundleOptions } from './workflow-bundle.js';

/** Every bundle ends with its source map inline; the SDK refuses a file without one, with a stack trace. */
const INLINE_SOURCE_MAP = '//# sourceMappingURL=data:';

/**
 * The variable for `readEnv`: optional; a path that names no file, or a file that is no workflow
 * bundle (the worker's own main.js, say), is a problem naming it.
 */
export const WORKFLOW_BUNDLE_ENV = {
  WORKFLOW_BUNDLE_PATH: envVar({ optional: true }, (raw) => {
    const path = resolve(raw);
    if (!statSync(path, { throwIfNoEntry: false })?.isFile())
      return { problem: `names no file at ${path} (build it with npm run build)` };
    let code: string;
    try {
      code = readFileSync(path, 'utf8');
    } catch (error) {
      return { problem: `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
    }
    return code.includes(INLINE_SOURCE_MAP)
      ? { value: path }
      : {
          problem:
            'is no workflow bundle: it has no inline source map (npm run build writes dist/workflow-bundle.js)',
        };
  }),
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
  makeFolders(dirname(path));
  await writeFile(path, code);
  return { path, bytes: Buffer.byteLength(code) };
}
