/**
 * Access control for /v1/connections*: a bearer token when API_TOKEN is set, otherwise loopback
 * clients only (a local development default that never exposes the API to the network by accident),
 * and of those no browser page from another site.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { RequestHandler } from 'express';
import { ApiError } from './errors.js';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** True for a socket address on the loopback interface: 127.0.0.0/8 (also IPv4-mapped) or ::1. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const mapped = IPV4_MAPPED.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip);
  if (family === 4) return loopback.check(ip, 'ipv4');
  if (family === 6) return loopback.check(ip, 'ipv6');
  return false;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Compares two secrets in constant time; hashing first means the lengths do not leak either. */
export function tokensEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** True for an `Origin` on this machine: localhost (and `*.localhost`), 127.0.0.0/8 or [::1]. */
export function isLoopbackOrigin(origin: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(origin).hostname;
  } catch {
    return false; // `null` (a sandboxed frame, a redirect) and anything else unreadable
  }
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
  return isLoopback(hostname.replace(/^\[(.*)\]$/, '$1'));
}

/**
 * The middleware: 401 on a missing or wrong bearer token, 403 for a non-loopback client without one
 * configured. Without a token, a browser's request from another site's page is refused too (403):
 * the browser runs on this machine, so its loopback address alone would let any page it visits send
 * a form-like POST here. `trustedOrigins` may call as well (the codec's configured Web UI origins).
 */
export function requireClient(
  apiToken: string | undefined,
  trustedOrigins: readonly string[] = [],
): RequestHandler {
  if (apiToken !== undefined) {
    const expected = apiToken;
    return (req, res, next) => {
      const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
      if (!match?.[1] || !tokensEqual(match[1], expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="connect-saga"');
        next(
          new ApiError(401, 'unauthorized', 'A valid "Authorization: Bearer <API_TOKEN>" header is required'),
        );
        return;
      }
      next();
    };
  }
  return (req, _res, next) => {
    if (!isLoopback(req.socket.remoteAddress)) {
      next(
        new ApiError(
          403,
          'forbidden',
          'API_TOKEN is not set, so /v1/connections answers loopback clients only; set API_TOKEN to allow remote clients',
        ),
      );
      return;
    }
    const { origin } = req.headers;
    if (origin !== undefined && !isLoopbackOrigin(origin) && !trustedOrigins.includes(origin)) {
      next(
        new ApiError(
          403,
          'forbidden',
          `API_TOKEN is not set, so browser pages from other sites (Origin ${origin}) may not call this API; set API_TOKEN`,
        ),
      );
      return;
    }
    next();
  };
}
