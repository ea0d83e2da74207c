/**
 * Reads and checks the TLS material of a Temporal connection before any connection is tried: each
 * file readable, each value PEM of the right kind, the client key matching its certificate.
 * Problems describe the material without ever quoting it.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

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
  try {
    const certificate = new X509Certificate(read.bytes);
    if (kind === 'certificate' && Date.parse(certificate.validTo) < Date.now()) {
      return { ok: false, problem: `certificate expired on ${certificate.validTo}${where(source)}` };
    }
  } catch {
    return { ok: false, problem: `is not a readable PEM ${kind}${where(source)}` };
  }
  return read;
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
