/**
 * A plaintext gRPC proxy in front of the dev server that records each call's method and metadata
 * (HTTP/2 headers), so a test can see what reaches the server: e.g. the API's `x-request-id`.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { forward } from './tls-front.js';

export interface CapturedCall {
  /** e.g. `/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution` */
  path: string;
  metadata: http2.IncomingHttpHeaders;
}

export interface GrpcCapture {
  /** 127.0.0.1:<port> */
  address: string;
  calls: CapturedCall[];
  close(): Promise<void>;
}

/**
 * Starts the proxy on 127.0.0.1, a free port, forwarding to `upstream` (host:port, plaintext).
 * `delayMs` holds each call to a method (the last part of its path) that long before it goes on.
 */
export async function startGrpcCapture(
  upstream: string,
  delayMs: Record<string, number> = {},
): Promise<GrpcCapture> {
  const session = http2.connect(`http://${upstream}`);
  session.on('error', () => undefined);
  const calls: CapturedCall[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const path = String(headers[':path']);
    calls.push({ path, metadata: headers });
    const held = delayMs[path.split('/').pop() ?? ''];
    if (held === undefined) forward(stream, headers, session);
    else setTimeout(() => !stream.destroyed && forward(stream, headers, session), held);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: async () => {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      session.close();
    },
  };
}
