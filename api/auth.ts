/**
 * Access control for /v1/connections*: a bearer token when API_TOKEN is set, otherwise loopback
 * clients only (a local development default that never exposes the API to the network by accident),
 * and of those no browser page from another site.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { hostname as machineName } from 'node:os';
import type { Request, RequestHandler } from 'express';
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

// Names that reach this machine without leaving it; 0.0.0.0 and [::] connect to it on Linux and macOS.
const LOCAL_NAMES = new Set(['localhost', '0.0.0.0', '[::]']);

/** True for a host name that means this machine: localhost, `*.localhost`, a loopback IP, its own name. */
function isLocalName(hostname: string): boolean {
  const name = hostname.toLowerCase();
  if (LOCAL_NAMES.has(name) || name.endsWith('.localhost') || name === machineName().toLowerCase())
    return true;
  return isLoopback(name.replace(/^\[(.*)\]$/, '$1'));
}

/**
 * True for a URL (an `Origin`, or `http://` and a `Host` header) whose host means this machine:
 * localhost (and `*.localhost`), 127.0.0.0/8, [::1], its own name; false for one that does not parse.
 */
export function isLocalUrl(url: string): boolean {
  try {
    return isLocalName(new URL(url).hostname);
  } catch {
    return false; // an Origin of `null` (a sandboxed frame, a redirect), or anything else unreadable
  }
}

/** Why a loopback client may not call without a token, or undefined when it may. */
function localCallerProblem(req: Request, trustedOrigins: readonly string[]): string | undefined {
  const { origin, host } = req.headers;
  if (origin !== undefined && !isLocalUrl(origin) && !trustedOrigins.includes(origin)) {
    return `browser pages from other sites (Origin ${origin}) may not call this API`;
  }
  // A page whose own host name was re-pointed at 127.0.0.1 (DNS rebinding) sends no Origin on a GET,
  // but its Host header still names its site.
  if (host !== undefined && !isLocalUrl(`http://${host}`)) {
    return `requests must name this machine in their Host header (got ${host})`;
  }
  return undefined;
}

/** Which routes a `requireClient` guards, the token they take, and what to set while none is. */
export interface GuardedRoutes {
  routes: string;
  tokenVariable: string;
  /** Says that no token is set, e.g. "API_TOKEN is not set". */
  unset: string;
  toSet: string;
}

/** /v1/connections*: the partner's API_TOKEN. */
export const CONNECTION_ROUTES: GuardedRoutes = {
  routes: '/v1/connections',
  tokenVariable: 'API_TOKEN',
  unset: 'API_TOKEN is not set',
  toSet: 'API_TOKEN',
};

/**
 * The middleware: 401 on a missing or wrong bearer token, 403 for a non-loopback client without one
 * configured. Without a token, a browser's request from another site's page is refused too (403):
 * the browser runs on this machine, so its loopback address alone would let any page it visits send
 * a form-like POST here, or read answers through DNS rebinding. `trustedOrigins` may call as well
 * (the codec's configured Web UI origins). `guarded` names, in the answers, the routes and the token
 * (a client holding the wrong one of two tokens learns which it needs) and what to set when none is.
 */
export function requireClient(
  apiToken: string | undefined,
  trustedOrigins: readonly string[] = [],
  guarded: GuardedRoutes = CONNECTION_ROUTES,
): RequestHandler {
  const { routes, tokenVariable, unset, toSet } = guarded;
  if (apiToken !== undefined) {
    const expected = apiToken;
    return (req, res, next) => {
      const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
      if (!match?.[1] || !tokensEqual(match[1], expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="connect-saga"');
        next(
          new ApiError(
            401,
            'unauthorized',
            `A valid "Authorization: Bearer <${tokenVariable}>" header is required`,
          ),
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
          `${unset}, so ${routes} answers loopback clients only; set ${toSet} to allow remote clients`,
        ),
      );
      return;
    }
    const problem = localCallerProblem(req, trustedOrigins);
    if (problem !== undefined) {
      next(new ApiError(403, 'forbidden', `${unset}, so ${problem}; set ${toSet}`));
      return;
    }
    next();
  };
}
