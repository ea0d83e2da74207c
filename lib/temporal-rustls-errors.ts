/**
 * Certificate errors of the worker's connection. The SDK's core (tonic over rustls) reports them only
 * as the text of a Rust error, e.g. `tonic::transport::Error(Transport, InvalidCertificate(Other(
 * OtherError(UnsupportedCertVersion))))`, and rustls refuses some certificates Node's TLS accepts
 * (X.509 v1), so the transport probe can find nothing wrong: read from that text, each is a setting
 * problem that stops the worker at once instead of a server to wait for.
 */
import type { ConfigProblem } from './config.js';
import type { TemporalConnectionConfig } from './temporal-connection.js';
import { causeChain } from './cause-chain.js';

export interface RustlsCertificateProblem {
  problem: ConfigProblem;
  /**
   * True when rustls refused the process's own material while building its TLS settings, before
   * any connection: nothing on the network can tell more.
   */
  local: boolean;
}

/** rustls' name for the refusal: `InvalidCertificate(UnknownIssuer)`, `invalid peer certificate: Expired`. */
const REFUSAL =
  /InvalidCertificate\((?:Other\((?:OtherError\()?)?(\w+)|invalid peer certificate: (?:Other\((?:OtherError\()?)?(\w+)/;

function texts(error: unknown): string[] {
  return [...causeChain(error)].map((e) => {
    const message = (e as { message?: unknown }).message;
    return typeof message === 'string' ? message : String(e);
  });
}

const V1 = "the worker's TLS accepts only X.509 v3 certificates";

/** What rustls refused in the process's own TLS material (the client certificate, else the CA). */
function ownMaterial(config: TemporalConnectionConfig, reason: string): ConfigProblem {
  const tls = config.connectionOptions.tls;
  const variable =
    typeof tls === 'object' && tls.clientCertPair ? config.origins.clientCert : config.origins.serverCa;
  return reason === 'UnsupportedCertVersion'
    ? { variable, problem: `is not an X.509 v3 certificate; ${V1} (${reason})` }
    : { variable, problem: `is not accepted by the worker's TLS (${reason})` };
}

/** What rustls refused in the certificate the server presented in the handshake. */
function serverCertificate(config: TemporalConnectionConfig, reason: string): ConfigProblem {
  const { address, origins, connectionOptions } = config;
  const tls = typeof connectionOptions.tls === 'object' ? connectionOptions.tls : {};
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
  if (reason === 'UnknownIssuer' || reason === 'BadSignature') {
    return tls.serverRootCACertificate
      ? { variable: origins.serverCa, problem: `does not verify the certificate of ${address} (${reason})` }
      : {
          variable: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
          problem: `is not set and the certificate of ${address} is not trusted (${reason}): give the CA that signed it`,
        };
  }
  if (reason.startsWith('NotValidForName')) {
    return tls.serverNameOverride
      ? {
          variable: origins.serverName,
          problem: `the certificate of ${address} is not valid for "${tls.serverNameOverride}" (${reason})`,
        }
      : {
          variable: 'TEMPORAL_TLS_SERVER_NAME',
          problem: `is not set and the certificate of ${address} is not valid for "${host}" (${reason}): give a name the certificate holds`,
        };
  }
  const why = reason.startsWith('Expired')
    ? 'a certificate that has expired'
    : reason.startsWith('NotValidYet')
      ? 'a certificate that is not valid yet (are the clocks right?)'
      : reason === 'UnsupportedCertVersion'
        ? `a certificate that is not X.509 v3, and ${V1}`
        : "a certificate the worker's TLS refuses";
  return { variable: origins.address, problem: `the server at ${address} presents ${why} (${reason})` };
}

/** The certificate problem rustls reported in `error`, naming the setting; undefined when none. */
export function rustlsCertificateProblem(
  error: unknown,
  config: TemporalConnectionConfig,
): RustlsCertificateProblem | undefined {
  for (const text of texts(error)) {
    const refusal = REFUSAL.exec(text);
    const reason = refusal?.[1] ?? refusal?.[2];
    if (!reason) continue;
    // Refused in the handshake, the error wraps it in the connect (or I/O) error; refused in the
    // process's own settings, it comes bare, before any connection.
    const local = !/ConnectError|hyper::Error|Custom \{|invalid peer certificate/.test(text);
    return local
      ? { problem: ownMaterial(config, reason), local }
      : { problem: serverCertificate(config, reason), local };
  }
  return undefined;
}
