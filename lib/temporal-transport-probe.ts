/**
 * Finds out why a Temporal connection failed below gRPC, where the SDKs say little (the client says
 * only "Failed to connect before the deadline"): opens the same TLS (or plaintext) connection with
 * node:tls, sends the HTTP/2 preface and waits for the server's first frame. The outcome is a
 * setting at fault (untrusted server certificate, wrong server name, client certificate refused,
 * TLS on one side only) or "not reachable", which is worth retrying.
 */
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import type { ConfigProblem } from './config.js';
import type { TemporalConnectionConfig } from './temporal-connection.js';

export type ProbeResult =
  { kind: 'ok' } | { kind: 'unreachable'; reason: string } | { kind: 'setting'; problem: ConfigProblem };

const H2_PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), // an empty SETTINGS frame
]);

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
]);
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);
const NOT_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_RECORD_LAYER_FAILURE',
]);

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(at + 1)) };
}

/** Why the TLS connection failed, from the error's code and whether the handshake had completed. */
function tlsVerdict(config: TemporalConnectionConfig, code: string, handshakeDone: boolean): ProbeResult {
  const { address, origins, connectionOptions } = config;
  const tls = typeof connectionOptions.tls === 'object' ? connectionOptions.tls : {};
  if (UNREACHABLE.has(code)) return { kind: 'unreachable', reason: code };
  if (UNTRUSTED.has(code)) {
    return tls.serverRootCACertificate
      ? {
          kind: 'setting',
          problem: {
            variable: origins.serverCa,
            problem: `does not verify the certificate of ${address} (${code})`,
          },
        }
      : {
          kind: 'setting',
          problem: {
            variable: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
            problem: `is not set and the certificate of ${address} is not trusted (${code}): give the CA that signed it`,
          },
        };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    if (tls.serverNameOverride) {
      const problem = `the certificate of ${address} is not valid for "${tls.serverNameOverride}"`;
      return { kind: 'setting', problem: { variable: origins.serverName, problem } };
    }
    const problem = `is not set and the certificate of ${address} is not valid for "${splitAddress(address).host}": give a name the certificate holds`;
    return { kind: 'setting', problem: { variable: 'TEMPORAL_TLS_SERVER_NAME', problem } };
  }
  if (NOT_TLS.has(code) && !handshakeDone) {
    return {
      kind: 'setting',
      problem: {
        variable: origins.tls,
        problem: `turns TLS on, but ${address} does not answer TLS (${code}); a plaintext server?`,
      },
    };
  }
  if (handshakeDone || code.includes('ALERT')) {
    return tls.clientCertPair
      ? {
          kind: 'setting',
          problem: {
            variable: origins.clientCert,
            problem: `the client certificate was refused by ${address} (${code})`,
          },
        }
      : {
          kind: 'setting',
          problem: {
            variable: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
            problem: `is not set and ${address} refused the connection without a client certificate (mTLS) (${code})`,
          },
        };
  }
  return { kind: 'unreachable', reason: code };
}

/** Opens the socket, sends the preface and settles on the first answer, error, close or timeout. */
function watch(
  open: () => Socket,
  onSecure: boolean,
  verdict: (code: string, handshakeDone: boolean, firstBytes?: Buffer) => ProbeResult,
  timeoutMs: number,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let handshakeDone = false;
    const socket = open();
    const finish = (result: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ kind: 'unreachable', reason: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once(onSecure ? 'secureConnect' : 'connect', () => {
      handshakeDone = true;
      socket.write(H2_PREFACE);
    });
    socket.once('data', (bytes: Buffer) => finish(verdict('', handshakeDone, bytes)));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish(verdict(error.code ?? error.message, handshakeDone)),
    );
    socket.once('close', () => finish(verdict('ECONNRESET', handshakeDone)));
  });
}

/** Probes the transport `config` describes; see the module comment. */
export function probeTransport(config: TemporalConnectionConfig, timeoutMs = 5_000): Promise<ProbeResult> {
  const { host, port } = splitAddress(config.address);
  const { tls } = config.connectionOptions;
  if (tls === undefined || tls === false) {
    return watch(
      () => connectTcp({ host, port }),
      false,
      (code, connected, bytes) => {
        // A plaintext HTTP/2 server answers with a SETTINGS frame (type 4); a TLS server with an alert or nothing.
        if (bytes && bytes.length >= 4 && bytes[3] === 4) return { kind: 'ok' };
        if (!connected) return { kind: 'unreachable', reason: code };
        return {
          kind: 'setting',
          problem: {
            variable: 'TEMPORAL_TLS',
            problem: `is off but ${config.address} does not answer plaintext gRPC; does it require TLS?`,
          },
        };
      },
      timeoutMs,
    );
  }
  const custom = typeof tls === 'object' ? tls : {};
  const servername = custom.serverNameOverride ?? (isIP(host) ? undefined : host);
  const options: ConnectionOptions = {
    host,
    port,
    ...(servername ? { servername } : {}),
    ALPNProtocols: ['h2'],
    ...(custom.serverRootCACertificate ? { ca: Buffer.from(custom.serverRootCACertificate) } : {}),
    ...(custom.clientCertPair
      ? { cert: Buffer.from(custom.clientCertPair.crt), key: Buffer.from(custom.clientCertPair.key) }
      : {}),
  };
  return watch(
    () => connectTls(options),
    true,
    (code, handshakeDone, bytes) => (bytes ? { kind: 'ok' } : tlsVerdict(config, code, handshakeDone)),
    timeoutMs,
  );
}
