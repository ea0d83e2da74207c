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
  /**
   * Tests only: workflow modules swapped for others, keyed by the path the workflow code imports
   * (absolute, with its `.js`), e.g. a shorter window to wait out in real time.
   */
  replaceModules?: Record<string, string>;
}

/** Builds the workflow bundle once per process and set of options; every caller shares it. */
export function bundleConnectWorkflows(options: BundleOptions = {}): Promise<WorkflowBundleWithSourceMap> {
  const { failureConverterPath, interceptorModules = [], replaceModules = {} } = options;
  const key = JSON.stringify([failureConverterPath ?? '', interceptorModules, replaceModules]);
  const known = cached.get(key);
  if (known) return known;
  const bundle = bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    // Evaluated once when the worker starts, and shared by every saga, rather than once per saga
    // created or replayed: a cached saga takes about half the memory (docs/design.md, "Bounded
    // worker memory"). Safe while these modules keep no state of their own; ESLint holds them to it.
    preloadModules: [WORKFLOWS_PATH],
    ...(failureConverterPath ? { failureConverterPath } : {}),
    workflowInterceptorModules: interceptorModules,
    webpackConfigHook: (config) => {
      config.resolve = {
        ...config.resolve,
        extensionAlias: { '.js': ['.ts', '.js'] },
        alias: {
          ...(config.resolve?.alias as Record<string, string> | undefined),
          ...aliases(replaceModules),
        },
      };
      return config;
    },
    logger: quietLogger,
  });
  cached.set(key, bundle);
  return bundle;
}

/** Webpack matches an alias after `extensionAlias` has turned the imported `.js` into the `.ts` it tries. */
function aliases(replaceModules: Record<string, string>): Record<string, string> {
  const entries = Object.entries(replaceModules);
  return Object.fromEntries([...entries, ...entries.map(([from, to]) => [from.replace(/\.js$/, '.ts'), to])]);
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
