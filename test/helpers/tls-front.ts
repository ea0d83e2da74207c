/**
 * A TLS front for the plaintext Temporal dev server, so tests connect as to a secured cluster or
 * Temporal Cloud: a Node `http2` TLS server that forwards every gRPC stream (headers, body, trailers)
 * to the dev server over h2c. Two modes:
 *   - `mtls`: the client must present a certificate signed by the test CA;
 *   - `api-key`: the client must send `authorization: Bearer <apiKey>` (answered with gRPC
 *     UNAUTHENTICATED otherwise, as Temporal Cloud does).
 * `createTestPki` makes the CA and certificates with the `openssl` CLI.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2, {
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of PEM files. `other*` come from a second CA the front does not trust. */
export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCaCert: string;
  otherClientCert: string;
  otherClientKey: string;
  /** A key that belongs to no certificate here. */
  strayKey: string;
  /** `clientKey`'s certificate again, as X.509 v1 (signed without extensions), which rustls refuses. */
  clientCertV1: string;
  /** An X.509 v1 server certificate (CN=localhost, no SAN) with its key, signed by the test CA. */
  serverCertV1: string;
  serverKeyV1: string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  // prettier-ignore
  openssl(dir, [
    'req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2',
    '-subj', `/CN=connect-saga ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function makeLeaf(dir: string, name: string, ca: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  // prettier-ignore
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2',
    '-extfile', `${name}.ext`, '-out', `${name}.pem`,
  ]);
}

/** Signs `csr` again without extensions: `openssl x509 -req` then writes an X.509 v1 certificate. */
function signV1(dir: string, csr: string, ca: string, out: string): void {
  // prettier-ignore
  openssl(dir, [
    'x509', '-req', '-in', `${csr}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-out', `${out}.pem`,
  ]);
}

/** A test CA with a server certificate (localhost, 127.0.0.1) and client certificates, in a temp dir. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'connect-saga-pki-'));
  const client = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n';
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(
    dir,
    'server',
    'ca',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' +
      'subjectAltName=DNS:localhost,IP:127.0.0.1\n',
  );
  makeLeaf(dir, 'client', 'ca', client);
  makeLeaf(dir, 'other-client', 'other-ca', client);
  openssl(dir, [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-out',
    'stray.key',
  ]);
  signV1(dir, 'client', 'ca', 'client-v1');
  openssl(dir, ['req', ...EC, '-keyout', 'server-v1.key', '-out', 'server-v1.csr', '-subj', '/CN=localhost']);
  signV1(dir, 'server-v1', 'ca', 'server-v1');
  const at = (file: string) => join(dir, file);
  return {
    dir,
    caCert: at('ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    otherCaCert: at('other-ca.pem'),
    otherClientCert: at('other-client.pem'),
    otherClientKey: at('other-client.key'),
    strayKey: at('stray.key'),
    clientCertV1: at('client-v1.pem'),
    serverCertV1: at('server-v1.pem'),
    serverKeyV1: at('server-v1.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsFrontOptions {
  /** host:port of the plaintext Temporal frontend. */
  upstream: string;
  mode: 'mtls' | 'api-key';
  /** PEM contents: the server's certificate and key, and the CA client certificates must chain to. */
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  /** For `api-key`: the only key accepted. */
  apiKey?: string;
}

export interface TlsFront {
  /** 127.0.0.1:<port> */
  address: string;
  /** TLS handshakes refused so far (no or untrusted client certificate). */
  refusedHandshakes: number;
  /** gRPC calls forwarded to the dev server so far. */
  forwarded: number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te']);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function unauthenticated(stream: ServerHttp2Stream, message: string): void {
  stream.respond(
    { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': message },
    { endStream: true },
  );
}

/** Forwards one gRPC call to the upstream session, trailers included. */
export function forward(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  upstream: ClientHttp2Session,
): void {
  const request = upstream.request({
    ':method': headers[':method'],
    ':path': headers[':path'],
    te: 'trailers',
    ...forwardable(headers),
  });
  let trailers: OutgoingHttpHeaders = {};
  request.on('response', (response, flags) => {
    if (stream.destroyed) return;
    const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    stream.respond(
      { ':status': response[':status'] ?? 200, ...forwardable(response) },
      endStream ? { endStream: true } : { waitForTrailers: true },
    );
    if (!endStream) request.pipe(stream);
  });
  request.on('trailers', (received) => (trailers = forwardable(received)));
  stream.on('wantTrailers', () => stream.sendTrailers(trailers));
  request.on('error', () => stream.destroy());
  stream.on('error', () => request.destroy());
  stream.on('close', () => request.destroy());
  stream.pipe(request);
}

/** Starts a TLS front on 127.0.0.1, a free port. */
export async function startTlsFront(options: TlsFrontOptions): Promise<TlsFront> {
  let upstream: ClientHttp2Session | undefined;
  // One h2c session to the dev server, opened again should it go away.
  const session = (): ClientHttp2Session => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = http2.connect(`http://${options.upstream}`);
      upstream.on('error', () => undefined);
    }
    return upstream;
  };
  const mtls = options.mode === 'mtls';
  const server = http2.createSecureServer({
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: mtls,
    rejectUnauthorized: mtls,
    ALPNProtocols: ['h2'],
  });
  const front: TlsFront = { address: '', refusedHandshakes: 0, forwarded: 0, close: async () => undefined };
  server.on('tlsClientError', () => (front.refusedHandshakes += 1));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (!mtls && headers.authorization !== `Bearer ${options.apiKey ?? ''}`) {
      unauthenticated(stream, 'invalid API key');
      return;
    }
    front.forwarded += 1;
    forward(stream, headers, session());
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  front.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  front.close = async () => {
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    upstream?.close();
  };
  return front;
}
