/**
 * A whole connect-saga stack in-process, for one test file: the Tray emulator, a worker on a unique
 * task queue against the shared dev server, and the HTTP API on 127.0.0.1:0. Share one per file and
 * use unique workflow ids per test.
 *
 *   const stack = await startStack();          // at the test file's top level, not in before():
 *   after(() => stack.close());                // devServer() ties a self-started server to the
 *                                              // node:test context it is first called in
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities, createTrayClient } from '../../activities/index.js';
import { createApp } from '../../api/app.js';
import { createLogger } from '../../api/logging.js';
import { apiGrpcInterceptors } from '../../api/temporal-channel.js';
import { buildOpenApi } from '../../api/openapi.js';
import { WEBHOOK_PATH } from '../../api/webhook.js';
import type { EmulatorOptions } from '../../emulator/server.js';
import { closeServer, listen, quietRuntime } from '../../dev/in-process.js';
import { joinHostPort } from '../../lib/host-port.js';
import { webhookRequest } from '../../dev/webhook.js';
import {
  EncryptionCodec,
  encryptedDataConverter,
  processDataConverter,
  type EncryptionKeys,
} from '../../lib/payload-codec.js';
import { bundleConnectWorkflows } from '../../lib/workflow-bundle.js';
import { createConnectWorker } from '../../worker/create-worker.js';
import { randomWebhookSecret, startEmulator, type StartedEmulator } from './emulator.js';
import { recordingHandler, undocumentedAnswers, type Answer } from './openapi-check.js';
import { devServer, uniqueId } from './temporal.js';

export interface StackOptions {
  /** Bearer token the API requires; default a random one; `null` = unset (loopback clients only). */
  apiToken?: string | null;
  /** `whsec_…` for the webhook (and the emulator's relay); default a random one; `null` = unset (503). */
  webhookSecret?: string | null;
  /** Run a worker on the stack's task queue (default true). */
  worker?: boolean;
  /** Extra emulator options (solutions, token TTL, log). */
  emulator?: Partial<EmulatorOptions>;
  /** Host the API listens on (default 127.0.0.1). */
  apiHost?: string;
  /** Port the API listens on (default any free one). */
  apiPort?: number;
  /** Encrypt payloads in client and worker, and serve /codec (with these Web UI origins). */
  encryption?: { keys: EncryptionKeys; corsOrigins?: string[] };
  /** Task queue (default a unique one): a second stack can take over the first one's sagas. */
  taskQueue?: string;
  /** An emulator to share with another stack (not closed with this stack). */
  sharedEmulator?: StartedEmulator;
  /** The Temporal server (default the test run's, devServer()). */
  temporal?: { address: string; namespace: string };
  /** The API's logger (default one at CONNECT_SAGA_TEST_LOG_LEVEL, silent unless set). */
  logger?: Logger;
}

export interface Stack {
  /** e.g. http://127.0.0.1:41234 */
  apiUrl: string;
  /** The API's webhook URL (`${apiUrl}/v1/webhooks/auth-completed`), also the emulator's relay target. */
  webhookUrl: string;
  apiToken?: string;
  webhookSecret?: string;
  emulator: StartedEmulator;
  client: Client;
  address: string;
  namespace: string;
  taskQueue: string;
  /** Headers for /v1/connections*: JSON content type and the bearer token (when one is set). */
  headers(extra?: Record<string, string>): Record<string, string>;
  /** Signs a webhook body as a partner backend would (Standard Webhooks); see `signWebhook`. */
  signWebhook(body: unknown, opts?: SignOptions): { headers: Record<string, string>; body: string };
  /** Every answer the API sent so far; `close()` fails if one's status, body or headers are not as the OpenAPI document says. */
  answers: Answer[];
  close(): Promise<void>;
}

export interface SignOptions {
  /** webhook-id (the signal's eventId); default a random msg_ id. */
  id?: string;
  /** Signing time; default now. */
  timestamp?: Date;
  /** Secret to sign with; default the stack's. */
  secret?: string;
}

/**
 * Signs `body` (an object is JSON-encoded; a string is sent as is) with Standard Webhooks headers.
 */
export function signWebhook(
  secret: string,
  body: unknown,
  opts: Omit<SignOptions, 'secret'> = {},
): { headers: Record<string, string>; body: string } {
  return webhookRequest(body, { ...opts, secret });
}

/** Starts emulator, worker and API; `close()` stops them in reverse order. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const { address, namespace } = options.temporal ?? (await devServer());
  const taskQueue = options.taskQueue ?? uniqueId('api-tq');
  const encryption = options.encryption;
  const dataConverter = encryption && encryptedDataConverter(encryption.keys);
  const apiToken =
    options.apiToken === null ? undefined : (options.apiToken ?? `tok_${randomBytes(16).toString('hex')}`);
  const webhookSecret =
    options.webhookSecret === null ? undefined : (options.webhookSecret ?? randomWebhookSecret());
  const cleanups: (() => Promise<void>)[] = [];
  const answers: Answer[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => console.error('stack cleanup failed:', err));
    }
    const undocumented = undocumentedAnswers(buildOpenApi({ codec: encryption !== undefined }), answers);
    if (undocumented.length > 0) {
      throw new Error(`answers the OpenAPI document does not describe:\n${undocumented.join('\n')}`);
    }
  };

  try {
    // With the API's own gRPC retries (api/temporal-channel.ts), as the API's answers depend on them.
    const connection = await Connection.connect({ address, interceptors: apiGrpcInterceptors() });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace, dataConverter });

    // The API listens first: the emulator needs its webhook URL.
    const app = createApp({
      client,
      taskQueue,
      namespace,
      apiToken,
      webhookSecret,
      logger: options.logger ?? createLogger({ level: process.env.CONNECT_SAGA_TEST_LOG_LEVEL ?? 'silent' }),
      codecServer: encryption && {
        codec: new EncryptionCodec(encryption.keys),
        corsOrigins: encryption.corsOrigins ?? [],
      },
    });
    const host = options.apiHost ?? '127.0.0.1';
    // Through a recorder, so every answer the tests provoke is checked against the document.
    const server = createServer(recordingHandler(app, answers)).listen(options.apiPort ?? 0, host);
    const { port } = await listen(server);
    cleanups.push(() => closeServer(server));
    const apiUrl = `http://${joinHostPort(host, port)}`;
    const webhookUrl = `${apiUrl}${WEBHOOK_PATH}`;

    const emulator =
      options.sharedEmulator ?? (await startEmulator({ webhookUrl, webhookSecret, ...options.emulator }));
    if (!options.sharedEmulator) cleanups.push(() => emulator.close());

    if (options.worker !== false) {
      quietRuntime();
      const nativeConnection = await NativeConnection.connect({ address });
      cleanups.push(() => nativeConnection.close());
      const worker: Worker = await createConnectWorker({
        connection: nativeConnection,
        namespace,
        taskQueue,
        workflowBundle: await bundleConnectWorkflows({
          failureConverterPath: dataConverter?.failureConverterPath,
        }),
        // As worker/main.ts has it: without keys, the keyless codec.
        dataConverter: processDataConverter(encryption?.keys),
        rateLimitPerSecond: 1000,
        activities: createActivities({
          tray: createTrayClient({ graphqlUrl: emulator.graphqlUrl, masterToken: emulator.masterToken }),
          embeddedId: emulator.embeddedId,
          dialogBaseUrl: emulator.url,
          sealSecret: emulator.masterToken,
        }),
      });
      const running = worker.run();
      cleanups.push(async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      });
    }

    return {
      apiUrl,
      webhookUrl,
      apiToken,
      webhookSecret,
      emulator,
      client,
      address,
      namespace,
      taskQueue,
      headers: (extra = {}) => ({
        'content-type': 'application/json',
        ...(apiToken ? { authorization: `Bearer ${apiToken}` } : {}),
        ...extra,
      }),
      signWebhook: (body, opts = {}) => {
        const secret = opts.secret ?? webhookSecret;
        if (!secret) throw new Error('the stack has no webhook secret; pass opts.secret');
        return signWebhook(secret, body, opts);
      },
      answers,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Runs `body` while every instance removal takes `delayMs`, so a saga stays compensating that long. */
export async function whileRemovalsTake(
  stack: Stack,
  delayMs: number,
  body: () => Promise<void>,
): Promise<void> {
  stack.emulator.emulator.faults.add({
    operation: 'removeSolutionInstance',
    kind: 'delay',
    delayMs,
    times: 5,
  });
  try {
    await body();
  } finally {
    stack.emulator.emulator.faults.clear();
  }
}
