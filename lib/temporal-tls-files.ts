/**
 * Reads and checks the TLS material of a Temporal connection before any connection is tried: each
 * file readable, each value PEM of the right kind, the client certificate X.509 v3 and matching its key,
 * a client certificate and key given together. Problems describe the material without ever quoting it.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ClientConfigProfile, ConfigDataSource } from '@temporalio/envconfig';
import type { ConfigProblem } from './config.js';
import type { TemporalSettingOrigins } from './temporal-setting-origins.js';

/** Where a value comes from: a file path, or the PEM text itself (`*_DATA`). */
export type PemSource = { path: string } | { data: string | Uint8Array };

export type PemKind = 'certificate' | 'private key' | 'CA certificate';

type Read = { ok: true; bytes: Buffer } | { ok: false; problem: string };

function load(source: PemSource): Read {
  if ('data' in source) return { ok: true, bytes: Buffer.from(source.data) };
  try {
    return { ok: true, bytes: readFileSync(source.path) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (code ?? 'unreadable');
    return { ok: false, problem: `cannot read ${source.path}: ${why}` };
  }
}

function where(source: PemSource): string {
  return 'path' in source ? ` (${source.path})` : '';
}

/** Checks one PEM value; answers its bytes, or a problem that names the file but quotes nothing. */
export function readPem(source: PemSource, kind: PemKind): Read {
  const read = load(source);
  if (!read.ok) return read;
  const text = read.bytes.toString('latin1');
  if (kind === 'private key') {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
      return { ok: false, problem: `is not a PEM private key${where(source)}` };
    }
    if (text.includes('ENCRYPTED')) {
      return {
        ok: false,
        problem: `is an encrypted private key${where(source)}; Temporal needs it unencrypted`,
      };
    }
    try {
      createPrivateKey(read.bytes);
    } catch {
      return { ok: false, problem: `is not a readable PEM private key${where(source)}` };
    }
    return read;
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    return { ok: false, problem: `is not a PEM ${kind}${where(source)}` };
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(read.bytes);
  } catch {
    return { ok: false, problem: `is not a readable PEM ${kind}${where(source)}` };
  }
  if (kind === 'certificate' && Date.parse(certificate.validTo) < Date.now()) {
    return { ok: false, problem: `certificate expired on ${certificate.validTo}${where(source)}` };
  }
  const version = x509Version(certificate.raw);
  // The worker's TLS (rustls, in the SDK's core) refuses a client certificate that is not v3 when it
  // loads it, while the API's (Node) sends it: caught here, both processes stop alike. A v1 CA is
  // fine for both (rustls takes it as a trust anchor), so only the client certificate is checked.
  if (kind === 'certificate' && version !== undefined && version !== 3) {
    return {
      ok: false,
      problem: `is an X.509 v${version} certificate${where(source)}; the worker's TLS accepts only X.509 v3 certificates: issue it again with extensions (openssl x509 -req … -extfile, e.g. extendedKeyUsage=clientAuth)`,
    };
  }
  return read;
}

/** Tag and content bounds of the DER element at `at`; undefined when it runs past `der`. */
function derElement(der: Buffer, at: number): { tag: number; start: number; end: number } | undefined {
  if (at + 2 > der.length) return undefined;
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || start + octets > der.length) return undefined;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + der[start + i]!;
    start += octets;
  }
  return start + length <= der.length ? { tag, start, end: start + length } : undefined;
}

/**
 * The X.509 version (1, 2 or 3) of a DER certificate: the TBSCertificate's explicit [0] version
 * field, absent for v1 (its default). Undefined when the DER is not shaped like a certificate.
 */
export function x509Version(der: Buffer): number | undefined {
  const certificate = derElement(der, 0);
  const tbs = certificate && derElement(der, certificate.start);
  const first = tbs && derElement(der, tbs.start);
  if (!first) return undefined;
  if (first.tag === 0x02) return 1; // the serial number: no version field
  if (first.tag !== 0xa0) return undefined;
  const version = derElement(der, first.start);
  if (!version || version.tag !== 0x02 || version.end - version.start !== 1) return undefined;
  return der[version.start]! + 1;
}

/** True when `key` is the private key of the (first) certificate in `cert`. */
export function keyMatchesCertificate(cert: Buffer, key: Buffer): boolean {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
    return new X509Certificate(cert).checkPrivateKey(privateKey);
  } catch {
    return false;
  }
}

/** Reads and checks the TLS files; answers the profile's TLS with their contents in place of paths. */
export function checkedTls(
  profile: ClientConfigProfile,
  from: TemporalSettingOrigins,
  problems: ConfigProblem[],
): ClientConfigProfile['tls'] {
  const tls = profile.tls;
  if (!tls) return undefined;
  const read = (source: ConfigDataSource | undefined, kind: PemKind, variable: string) => {
    if (!source) return undefined;
    const result = readPem(source, kind);
    if (result.ok) return result.bytes;
    problems.push({ variable, problem: result.problem });
    return null;
  };
  const cert = read(tls.clientCert, 'certificate', from.clientCert);
  const key = read(tls.clientKey, 'private key', from.clientKey);
  const ca = read(tls.serverCACert, 'CA certificate', from.serverCa);
  if (cert !== undefined && key === undefined) {
    problems.push({
      variable: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
      problem: `is required with ${from.clientCert} (mTLS needs both)`,
    });
  } else if (key !== undefined && cert === undefined) {
    problems.push({
      variable: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
      problem: `is required with ${from.clientKey} (mTLS needs both)`,
    });
  } else if (cert && key && !keyMatchesCertificate(cert, key)) {
    problems.push({
      variable: from.clientKey,
      problem: `is not the private key of the certificate in ${from.clientCert}`,
    });
  }
  return {
    ...tls,
    clientCert: cert ? { data: cert } : undefined,
    clientKey: key ? { data: key } : undefined,
    serverCACert: ca ? { data: ca } : undefined,
  };
}
