/**
 * The stack a chaos run breaks and mends: a Temporal dev server on a SQLite file, the Tray emulator
 * with a state file, the API and any number of workers as real processes, all on 127.0.0.1, plus
 * the partner relay. Every part can be killed and started again on the same port and files.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../common/messages.js';
import { startDevServer, type DevServer } from '../dev/dev-server.js';
import { freePort } from '../dev/free-port.js';
import { findTemporalCli } from '../dev/temporal-bin.js';
import { onKillAll, startProc, type Proc } from './procs.js';
import { startRelay, type Relay } from './relay.js';

const READY_MS = 120_000;

export interface Secrets {
  masterToken: string;
  embeddedId: string;
  webhookSecret: string;
}

export class Stack {
  temporal?: DevServer;
  emulator?: Proc;
  api?: Proc;
  workers: Proc[] = [];
  #client?: Client;
  readonly apiUrl: string;
  readonly emulatorUrl: string;
  readonly taskQueue = DEFAULT_TASK_QUEUE;
  #forgetTemporal?: () => void;
  #workerCount = 0;

  private constructor(
    readonly runDir: string,
    readonly secrets: Secrets,
    readonly ports: { temporal: number; emulator: number; api: number },
    readonly relay: Relay,
    private readonly cliPath: string,
  ) {
    this.apiUrl = `http://127.0.0.1:${ports.api}`;
    this.emulatorUrl = `http://127.0.0.1:${ports.emulator}`;
  }

  /** A client of the dev server, made once its port is known (after the first startTemporal()). */
  get client(): Client {
    this.#client ??= new Client({
      connection: Connection.lazy({ address: this.temporalAddress }),
      namespace: 'default',
    });
    return this.#client;
  }

  get temporalAddress(): string {
    return `127.0.0.1:${this.ports.temporal}`;
  }

  /** Starts everything with one worker; `dir` (default a new temp dir) holds logs and state. */
  static async start(seed: number, dir?: string): Promise<Stack> {
    const runDir = dir ?? mkdtempSync(join(tmpdir(), `chaos-${seed}-`));
    const secrets: Secrets = {
      masterToken: `mt_${randomBytes(24).toString('base64url')}`,
      embeddedId: `chaos-${seed}`,
      webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
    };
    // Temporal's port is the one its first start found free (0: startDevServer picks it, afresh on a
    // start that lost it to another process); every later start reuses it.
    const ports = { temporal: 0, emulator: await freePort(), api: await freePort() };
    const relay = await startRelay(`http://127.0.0.1:${ports.api}/v1/webhooks/auth-completed`);
    const stack = new Stack(runDir, secrets, ports, relay, await findTemporalCli());
    await stack.startTemporal();
    await stack.startEmulator();
    await Promise.all([stack.startApi(), stack.startWorker()]);
    return stack;
  }

  async startTemporal(): Promise<void> {
    this.temporal = await startDevServer({
      cliPath: this.cliPath,
      port: this.ports.temporal || undefined,
      dbFile: join(this.runDir, 'temporal.db'),
      logFile: join(this.runDir, 'temporal.log'),
      startTimeoutMs: READY_MS,
    });
    const server = this.temporal;
    this.ports.temporal ||= server.port;
    this.#forgetTemporal = onKillAll(() => server.process.kill('SIGKILL'));
  }

  /** SIGKILL: the server gets no chance to flush anything beyond what SQLite already holds. */
  async killTemporal(): Promise<void> {
    const server = this.temporal;
    if (!server) return;
    const exited = new Promise((r) => server.process.once('exit', r));
    server.process.kill('SIGKILL');
    await exited;
    this.#forgetTemporal?.();
    this.temporal = undefined;
  }

  async startEmulator(): Promise<void> {
    const proc = startProc(
      'emulator',
      'emulator/main.ts',
      {
        TRAY_EMULATOR_PORT: String(this.ports.emulator),
        TRAY_EMULATOR_HOST: '127.0.0.1',
        TRAY_MASTER_TOKEN: this.secrets.masterToken,
        TRAY_EMBEDDED_ID: this.secrets.embeddedId,
        WEBHOOK_URL: this.relay.url,
        WEBHOOK_SECRET: this.secrets.webhookSecret,
        TRAY_EMULATOR_STATE_FILE: join(this.runDir, 'emulator-state.json'),
      },
      this.runDir,
    );
    this.emulator = proc;
    await proc.waitForLine(/listening on/, READY_MS);
  }

  /** SIGTERM (the emulator saves its state file and closes its port): Tray refuses connections. */
  async stopEmulator(): Promise<void> {
    await this.emulator?.stop(10_000);
  }

  async startApi(): Promise<void> {
    const proc = startProc(
      'api',
      'api/main.ts',
      {
        TEMPORAL_ADDRESS: this.temporalAddress,
        TEMPORAL_TASK_QUEUE: this.taskQueue,
        API_PORT: String(this.ports.api),
        API_HOST: '127.0.0.1',
        WEBHOOK_SECRET: this.secrets.webhookSecret,
      },
      this.runDir,
    );
    this.api = proc;
    await waitUntil(async () => {
      if (!proc.alive) throw new Error('the API exited before it was ready');
      const res = await fetch(`${this.apiUrl}/readyz`, { signal: AbortSignal.timeout(3000) });
      return res.ok;
    }, READY_MS);
  }

  /** Starts one more worker and resolves once it serves the task queue. */
  async startWorker(): Promise<Proc> {
    this.#workerCount += 1;
    const proc = startProc(
      `worker-${this.#workerCount}`,
      'worker/main.ts',
      {
        TEMPORAL_ADDRESS: this.temporalAddress,
        TEMPORAL_TASK_QUEUE: this.taskQueue,
        TRAY_GRAPHQL_URL: `${this.emulatorUrl}/graphql`,
        TRAY_AUTH_DIALOG_URL: this.emulatorUrl,
        TRAY_MASTER_TOKEN: this.secrets.masterToken,
        TRAY_EMBEDDED_ID: this.secrets.embeddedId,
      },
      this.runDir,
    );
    this.workers.push(proc);
    void proc.exited.then(() => (this.workers = this.workers.filter((w) => w !== proc)));
    await proc.waitForLine(/worker serving task queue/, READY_MS);
    return proc;
  }

  /** Brings back whatever is down, with `workers` workers (default 1), so the next scenario starts whole. */
  async heal(workers = 1): Promise<void> {
    if (!this.temporal) await this.startTemporal();
    if (!this.emulator?.alive) await this.startEmulator();
    const starts: Promise<unknown>[] = [];
    if (!this.api?.alive) starts.push(this.startApi());
    for (let n = this.workers.length; n < workers; n += 1) starts.push(this.startWorker());
    await Promise.all(starts);
    while (this.workers.length > workers) await this.workers.at(-1)?.stop(15_000);
    this.relay.release();
  }

  async close(): Promise<void> {
    await this.api?.stop(5000);
    await Promise.all(this.workers.map((w) => w.stop(5000)));
    await this.emulator?.stop(5000);
    await this.#client?.connection.close().catch(() => {});
    await this.temporal?.stop();
    await this.relay.close();
  }
}

/** Polls `check` until it returns true; throws at the deadline with the last error. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms: ${String(last ?? '')}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
