/**
 * Counts Tray requests on the wire, in front of the emulator, so it counts whichever process sent
 * them (worker children included). Each request is attributed to a Tray user: from its variables
 * (`externalUserId`, `userId`) or, for a user-token request, from the token's owner in the
 * emulator's store (the token itself is never kept). The bench maps users to sagas afterwards.
 * It also taps the dialog's webhook relay on its way to the API, to time when each auth arrived.
 */
import type { Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import { Kind, parse } from 'graphql';
import type { Emulator } from '../emulator/server.js';
import { listen } from '../dev/in-process.js';
import { httpRequest } from '../lib/http-request.js';

export interface WireRequest {
  /** ms since epoch, when the request reached the emulator. */
  at: number;
  /**
   * ms since epoch, when the worker sent it: the bench's worker processes stamp their requests
   * (bench/stamp-sends.mjs). Unset for a request without a usable stamp.
   */
  sentAt?: number;
  operation: string;
  /** The Tray user id, when the request names one (by variable or by user token). */
  userId?: string;
  /** The partner's id for the user, when the request names it (FindUser, CreateUser). */
  externalUserId?: string;
  /** HTTP status the emulator answered (0 until it answered). */
  status: number;
  /** When the emulator's answer was sent. */
  answeredAt?: number;
}

export interface RelayedWebhook {
  at: number;
  solutionInstanceId: string;
  externalAuthId: string;
  /** What the API answered the relay, and when. */
  status: number;
  answeredAt?: number;
}

export interface WireTap {
  /** Base URL for the worker's Tray GraphQL and dialog links (it forwards to the emulator). */
  url: string;
  /** Where the emulator's dialog relays webhooks; forwarded to the API's webhook. */
  webhookUrl: string;
  requests: WireRequest[];
  webhooks: RelayedWebhook[];
  /** Resolves with when the emulator answered this user's EnableInstance with success. */
  whenEnabled(userId: string, signal: AbortSignal): Promise<number>;
  /** Where relayed webhooks go; set once the API listens. */
  setApiWebhook(url: string): void;
  server: Server;
  emulator: Emulator;
}

const operations = new Map<string, string>();

function operationOf(query: unknown): string {
  if (typeof query !== 'string') return 'unknown';
  let name = operations.get(query);
  if (name === undefined) {
    try {
      const def = parse(query).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
      name = def?.name?.value ?? 'anonymous';
    } catch {
      name = 'unparsable';
    }
    operations.set(query, name);
  }
  return name;
}

/** The header bench/stamp-sends.mjs sets on each request a bench worker sends. */
const SENT_AT_HEADER = 'x-bench-sent-at';
/** A stamp this far from the arrival is not taken: the sender and the tap share one clock. */
const STAMP_SLACK_MS = 60_000;

function sentAtOf(header: string | undefined, at: number): number | undefined {
  const sent = Number(header);
  return header !== undefined && Number.isFinite(sent) && Math.abs(at - sent) <= STAMP_SLACK_MS
    ? sent
    : undefined;
}

function recordGraphql(emulator: Emulator, req: Request): WireRequest {
  const { query, variables } = (req.body ?? {}) as { query?: unknown; variables?: Record<string, unknown> };
  const record: WireRequest = { at: Date.now(), operation: operationOf(query), status: 0 };
  const sentAt = sentAtOf(req.get(SENT_AT_HEADER), record.at);
  if (sentAt !== undefined) record.sentAt = sentAt;
  if (typeof variables?.externalUserId === 'string') record.externalUserId = variables.externalUserId;
  if (typeof variables?.userId === 'string') record.userId = variables.userId;
  const token = /^Bearer\s+(ut_\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
  if (token !== undefined) {
    const owner = emulator.store.userForToken(token);
    if (owner !== undefined) record.userId = owner;
  }
  return record;
}

/** Notes when each relayed webhook arrived and forwards its exact bytes to the API's webhook. */
function relay(webhooks: RelayedWebhook[], target: () => string) {
  return async (req: Request, res: Response): Promise<void> => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let payload: { solutionInstanceId?: unknown; externalAuthId?: unknown } = {};
    try {
      payload = JSON.parse(raw.toString('utf8')) as typeof payload;
    } catch {
      // Forwarded as is; the API judges it.
    }
    const record: RelayedWebhook = {
      at: Date.now(),
      solutionInstanceId: String(payload.solutionInstanceId ?? ''),
      externalAuthId: String(payload.externalAuthId ?? ''),
      status: 0,
    };
    webhooks.push(record);
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const value = req.get(name);
      if (value !== undefined) headers[name] = value;
    }
    try {
      const answer = await httpRequest(target(), { method: 'POST', headers, body: raw });
      record.status = answer.status;
      record.answeredAt = Date.now();
      res.status(answer.status).type('json').send(answer.body);
    } catch (error) {
      res.status(502).json({ error: (error as Error).message });
    }
  };
}

/**
 * Starts the tap on 127.0.0.1, then the emulator from `makeEmulator(webhookUrl)` behind it: /graphql is
 * recorded then served by the emulator, like every other path.
 */
export async function startWireTap(makeEmulator: (webhookUrl: string) => Emulator): Promise<WireTap> {
  // Bound once the tap listens, since the emulator needs the tap's URL for its webhook relay.
  const behind: { emulator?: Emulator } = {};
  const enabled = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  const requests: WireRequest[] = [];
  const webhooks: RelayedWebhook[] = [];
  let apiWebhook = '';
  const app = express();
  app.disable('x-powered-by');
  // The emulator's own JSON parser sees a consumed stream and keeps the body parsed here.
  app.post('/graphql', express.json({ limit: '1mb' }), (req, res, next) => {
    const record = recordGraphql(behind.emulator as Emulator, req);
    requests.push(record);
    res.once('finish', () => {
      record.status = res.statusCode;
      record.answeredAt = Date.now();
      if (record.operation === 'EnableInstance' && record.status === 200 && record.userId !== undefined) {
        enabled.set(record.userId, record.answeredAt);
        waiters.get(record.userId)?.(record.answeredAt);
      }
    });
    next();
  });
  app.post(
    '/bench-webhook',
    express.raw({ type: () => true, limit: '64kb' }),
    relay(webhooks, () => apiWebhook),
  );
  app.use((req, res, next) => (behind.emulator as Emulator).app(req, res, next));
  const server = app.listen(0, '127.0.0.1');
  const { port } = await listen(server);
  const url = `http://127.0.0.1:${port}`;
  const emulator = makeEmulator(`${url}/bench-webhook`);
  behind.emulator = emulator;
  return {
    url,
    emulator,
    webhookUrl: `${url}/bench-webhook`,
    requests,
    webhooks,
    setApiWebhook: (target) => (apiWebhook = target),
    whenEnabled: (userId, signal) =>
      new Promise<number>((resolve, reject) => {
        const known = enabled.get(userId);
        if (known !== undefined) return resolve(known);
        const onAbort = () => reject(signal.reason as Error);
        signal.addEventListener('abort', onAbort, { once: true });
        waiters.set(userId, (at) => {
          signal.removeEventListener('abort', onAbort);
          waiters.delete(userId);
          resolve(at);
        });
      }),
    server,
  };
}
