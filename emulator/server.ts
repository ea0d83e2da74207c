import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { createDialogRouter } from './dialog.js';
import { FaultInjector, faultSpecSchema } from './faults.js';
import { createGraphqlHandler, type RecordedRequest } from './graphql.js';
import { DEFAULT_REQUEST_LOG_LIMIT, RequestLog } from './request-log.js';
import { loadStateFile, StateFileWriter } from './state-file.js';
import { joinHostPort } from '../lib/host-port.js';
import { DEMO_SOLUTIONS, type SolutionSeed } from './records.js';
import { EmulatorStore } from './store.js';
import { modesSchema } from './user-modes.js';

export { DEMO_SOLUTIONS, EmulatorStore, FaultInjector, RequestLog };
export type { SolutionSeed, RecordedRequest };
export type { FaultKind, FaultSpec } from './faults.js';
export type { DuplicateUserMode, EmulatorModes } from './user-modes.js';

export interface EmulatorOptions {
  /** The partner master token it accepts. */
  masterToken: string;
  /** The partner's embedded id (dialog URLs carry it). */
  embeddedId: string;
  /** Default: DEMO_SOLUTIONS (sol-1, sol-2). */
  solutions?: SolutionSeed[];
  /** Where the dialog page relays completed auths (the API's /v1/webhooks/auth-completed). */
  webhookUrl?: string;
  /** whsec_... used to sign that relay. */
  webhookSecret?: string;
  /** Default 2 days. */
  userTokenTtlMs?: number;
  /** One line per request and dialog action; never contains a token. Default: silent. */
  log?: (line: string) => void;
  /**
   * A JSON file that keeps users, instances, authentications and one-time codes across restarts
   * (not user tokens, the request log or faults): read at creation, rewritten shortly after every
   * state-changing request and on close(). Default: memory only.
   */
  stateFile?: string;
  /**
   * How many GraphQL requests `requests` keeps at least (the oldest beyond that are dropped, their
   * offsets stay valid). Default DEFAULT_REQUEST_LOG_LIMIT (50,000).
   */
  requestLogLimit?: number;
}

export interface Emulator {
  app: Express;
  store: EmulatorStore;
  faults: FaultInjector;
  /** Every GraphQL request, newest last, with absolute offsets; bounded by `requestLogLimit`. */
  requests: RequestLog;
  /** `close()` also writes the state file, once the server has stopped. */
  listen(port?: number, host?: string): Promise<{ url: string; close(): Promise<void> }>;
  /** Writes the state file now if the state changed; a no-op without `stateFile`. */
  saveState(): Promise<void>;
}

const TWO_DAYS_MS = 2 * 24 * 60 * 60 * 1000;

/** The state file's writer, after loading what it holds into `store`; none without a state file. */
function persistence(options: EmulatorOptions, store: EmulatorStore, log: (line: string) => void) {
  if (!options.stateFile) return undefined;
  const loaded = loadStateFile(options.stateFile, log);
  if (loaded.state) store.importState(loaded.state);
  return loaded.writable ? new StateFileWriter(options.stateFile, () => store.exportState(), log) : undefined;
}

/** /_emulator/*: the tests' controls (faults) and windows (request log, state). */
function controlRoutes(app: Express, store: EmulatorStore, faults: FaultInjector, requests: RequestLog) {
  app.post('/_emulator/faults', express.json(), (req, res) => {
    const parsed = faultSpecSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: { code: 'invalid_fault', message: z.prettifyError(parsed.error) } });
      return;
    }
    faults.add(parsed.data);
    res.status(201).json({ faults: faults.list() });
  });
  app.delete('/_emulator/faults', (_req, res) => {
    faults.clear();
    res.status(204).end();
  });
  app.put('/_emulator/modes', express.json(), (req, res) => {
    const parsed = modesSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: { code: 'invalid_modes', message: z.prettifyError(parsed.error) } });
      return;
    }
    store.modes = parsed.data;
    res.json({ modes: store.modes });
  });
  app.get('/_emulator/requests', (_req, res) => {
    // `dropped` is the offset of the first entry listed; a reader filtering by time checks
    // `lastDroppedAt` to know whether the list still covers its window.
    res.json({
      requests: requests.retained(),
      dropped: requests.dropped,
      lastDroppedAt: requests.lastDroppedAt ?? null,
    });
  });
  app.get('/_emulator/state', (_req, res) => {
    res.json({ ...(store.snapshot() as object), faults: faults.list() });
  });
}

/** Unknown routes and errors express hands over (malformed JSON bodies and the like), in Tray's shape. */
function fallbackRoutes(app: Express) {
  app.use((_req, res) => {
    res.status(404).json({ errors: [{ message: 'Not found' }] });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status ?? 500;
    if (res.headersSent) return;
    res
      .status(status)
      .json({ errors: [{ message: status < 500 ? (err as Error).message : 'Internal Server Error' }] });
  });
}

/** `Emulator.listen`: serves `app`; closing drops open connections, then saves the state. */
function listener(app: Express, saveState: () => Promise<void>): Emulator['listen'] {
  return (port = 0, host = '127.0.0.1') =>
    new Promise((resolve, reject) => {
      const server = app.listen(port, host, (error?: Error) => {
        if (error) return reject(error);
        const { port: bound } = server.address() as AddressInfo;
        resolve({
          url: `http://${joinHostPort(host, bound)}`,
          close: async () => {
            try {
              await new Promise<void>((done, fail) => {
                server.close((e) => (e ? fail(e) : done()));
                server.closeAllConnections();
              });
            } finally {
              await saveState();
            }
          },
        });
      });
    });
}

/**
 * Builds a Tray Embedded emulator: GraphQL at POST /graphql, the auth dialog, and /_emulator/*
 * controls. State lives in memory, and in `options.stateFile` when given.
 */
export function createEmulator(options: EmulatorOptions): Emulator {
  if (!options.masterToken) throw new Error('createEmulator: masterToken is required');
  const log = options.log ?? (() => {});
  const store = new EmulatorStore(options.solutions ?? DEMO_SOLUTIONS, options.userTokenTtlMs ?? TWO_DAYS_MS);
  const faults = new FaultInjector();
  const requests = new RequestLog(options.requestLogLimit ?? DEFAULT_REQUEST_LOG_LIMIT);
  const writer = persistence(options, store, log);
  const saveState = async (): Promise<void> => {
    await writer?.flush();
  };

  const app = express();
  app.disable('x-powered-by');
  if (writer) {
    // Only GETs are free of side effects here (a GraphQL query arrives as a POST too, but an
    // unchanged state costs one comparison, not a write). `close` also fires for a dropped response.
    app.use((req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') res.once('close', () => writer.schedule());
      next();
    });
  }
  app.post(
    '/graphql',
    express.json({ limit: '1mb' }),
    createGraphqlHandler({ store, faults, masterToken: options.masterToken, requests, log }),
  );
  app.use(
    createDialogRouter({
      store,
      embeddedId: options.embeddedId,
      webhookUrl: options.webhookUrl,
      webhookSecret: options.webhookSecret,
      log,
    }),
  );
  controlRoutes(app, store, faults, requests);
  fallbackRoutes(app);

  return { app, store, faults, requests, saveState, listen: listener(app, saveState) };
}
