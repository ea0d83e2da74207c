/**
 * Bundles the workflow code for a Worker. The sources import each other with `.js` extensions
 * (ESM as Node runs it through tsx), so webpack is told to look for the `.ts` file behind each one.
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

// `.ts` beside the sources (tsx), `.js` in the compiled dist/ tree (`npm run build`).
const SOURCE_EXT = import.meta.url.endsWith('.js') ? '.js' : '.ts';
export const WORKFLOWS_PATH = fileURLToPath(new URL(`../workflows/index${SOURCE_EXT}`, import.meta.url));

const cached = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/** What changes the bundle: the failure converter (payload encryption) and tracing's interceptors. */
export interface BundleOptions {
  /** Must match the Worker's `dataConverter.failureConverterPath`. */
  failureConverterPath?: string;
  interceptorModules?: string[];
}

/** Builds the workflow bundle once per process and set of options; every caller shares it. */
export function bundleConnectWorkflows(options: BundleOptions = {}): Promise<WorkflowBundleWithSourceMap> {
  const { failureConverterPath, interceptorModules = [] } = options;
  const key = [failureConverterPath ?? '', ...interceptorModules].join('\n');
  const known = cached.get(key);
  if (known) return known;
  const bundle = bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ...(failureConverterPath ? { failureConverterPath } : {}),
    workflowInterceptorModules: interceptorModules,
    webpackConfigHook: (config) => {
      config.resolve = { ...config.resolve, extensionAlias: { '.js': ['.ts', '.js'] } };
      return config;
    },
    logger: quietLogger,
  });
  cached.set(key, bundle);
  return bundle;
}

// The bundler logs every build at info level; keep warnings and errors only.
const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, meta?: Record<string, unknown>) => console.warn(message, meta ?? ''),
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};
