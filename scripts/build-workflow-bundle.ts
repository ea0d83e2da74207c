/**
 * `npm run build` (after tsc): writes the workflow bundle to a file, so a worker started with
 * WORKFLOW_BUNDLE_PATH pointing at it skips webpack. The image build runs this; so does
 * test/image.test.ts.
 *   tsx scripts/build-workflow-bundle.ts [out]   # default dist/workflow-bundle.js
 */
import { relative } from 'node:path';
import { writeConnectWorkflowBundle } from '../lib/workflow-bundle-file.js';

const DEFAULT_OUT = 'dist/workflow-bundle.js';

const started = Date.now();
const { path, bytes } = await writeConnectWorkflowBundle(process.argv[2] ?? DEFAULT_OUT);
process.stdout.write(
  `workflow bundle: ${relative(process.cwd(), path)} (${Math.round(bytes / 1024)} KiB, ${Date.now() - started} ms)\n`,
);
