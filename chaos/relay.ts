/**
 * The partner backend between Tray's dialog and the API: the emulator relays each completed auth
 * here (signed), this answers at once and passes the delivery on to the API's webhook, retrying
 * while the API is down or answers 5xx, as a partner's queue would. In `hold` mode it keeps the
 * deliveries until `release()`, so a scenario can choose when the saga hears of the auths.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  headers: Record<string, string>;
  body: string;
  /** Parsed body fields. */
  solutionInstanceId?: string;
  externalAuthId?: string;
  authId?: string;
}

export interface Relay {
  url: string;
  /** Every delivery the emulator sent, in arrival order. */
  received: Delivery[];
  /** Final API answer per forwarded delivery (webhook-id → status). */
  answers: Map<string, number>;
  hold(): void;
  /** Takes what is held (it is never forwarded); holding goes on. */
  take(): Delivery[];
  /** Forwards what was held, and everything after, to the API. */
  release(): void;
  /** Resolves once no forward is pending, or at the deadline. */
  drained(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

const HEADERS = ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];
const RETRY_FOR_MS = 4 * 60_000;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parse(headers: Record<string, string>, body: string): Delivery {
  try {
    const fields = JSON.parse(body) as Record<string, string>;
    return {
      headers,
      body,
      solutionInstanceId: fields.solutionInstanceId,
      externalAuthId: fields.externalAuthId,
      authId: fields.authId,
    };
  } catch {
    return { headers, body };
  }
}

/** Posts one delivery to `webhookUrl`, retrying on network errors and 5xx; returns the last status. */
export async function postWebhook(
  webhookUrl: string,
  d: Delivery,
  retryForMs = RETRY_FOR_MS,
): Promise<number> {
  const deadline = Date.now() + retryForMs;
  let pause = 250;
  for (;;) {
    let status = 0;
    try {
      const res = await fetch(webhookUrl, {
        method: 'POST',
        headers: d.headers,
        body: d.body,
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      status = res.status;
    } catch {
      status = 0;
    }
    if ((status !== 0 && status < 500) || Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 3000);
  }
}

/** Starts the relay on 127.0.0.1 (a free port); deliveries go on to `webhookUrl`. */
export async function startRelay(webhookUrl: string): Promise<Relay> {
  const received: Delivery[] = [];
  const answers = new Map<string, number>();
  let held: Delivery[] | undefined;
  let pending = 0;
  const forward = (d: Delivery) => {
    pending += 1;
    void postWebhook(webhookUrl, d).then((status) => {
      answers.set(d.headers['webhook-id'] ?? '', status);
      pending -= 1;
    });
  };
  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const headers: Record<string, string> = {};
      for (const name of HEADERS) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const delivery = parse(headers, body);
      received.push(delivery);
      if (held) held.push(delivery);
      else forward(delivery);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"relayed":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/relay`,
    received,
    answers,
    hold: () => {
      held ??= [];
    },
    take: () => (held ? held.splice(0) : []),
    release: () => {
      const queue = held ?? [];
      held = undefined;
      for (const d of queue) forward(d);
    },
    drained: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      return pending === 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
