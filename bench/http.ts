/**
 * The bench's own HTTP calls (the partner's POSTs, the end users' dialog pages, the webhook relay)
 * over node's http with kept-alive connections. They share two cores with what is measured; fetch
 * costs about three times the CPU per request, which the floor, calling Temporal directly, never pays.
 */
import http from 'node:http';

export interface HttpAnswer {
  status: number;
  text: string;
}

export interface HttpRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

const agent = new http.Agent({ keepAlive: true });

/** One request; resolves with the status and the body as text, rejects on a network fault or abort. */
export function request(url: string | URL, init: HttpRequestInit = {}): Promise<HttpAnswer> {
  const { method = 'GET', headers = {}, body, signal } = init;
  return new Promise<HttpAnswer>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const req = http.request(url, {
      method,
      agent,
      headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
    });
    const onAbort = () => req.destroy(signal?.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('close', () => signal?.removeEventListener('abort', onAbort));
    req.on('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.end(body);
  });
}
