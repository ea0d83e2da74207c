/**
 * A wrong method on a known path: 405 in the error shape with an `Allow` header. The known paths and
 * their methods come from the OpenAPI document, so the two cannot disagree.
 */
import type { RequestHandler } from 'express';
import { sendError } from './errors.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export interface KnownPath {
  pattern: RegExp;
  allow: string[];
  /** As express writes it: `/v1/connections/:id`. */
  template: string;
}

/** `/v1/connections/{id}` → a regular expression matching one path segment per template part. */
function patternOf(template: string, flags = ''): RegExp {
  const escaped = template
    .split(/\{[^}]+\}/)
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${escaped}/?$`, flags);
}

/** The methods each documented path answers; a GET path also answers HEAD, and every one OPTIONS. */
export function knownPaths(paths: Record<string, unknown>): KnownPath[] {
  return Object.entries(paths).map(([template, item]) => {
    const methods = Object.keys(item as object).filter((key) => METHODS.includes(key));
    if (methods.includes('get') && !methods.includes('head')) methods.push('head');
    if (!methods.includes('options')) methods.push('options');
    // Routing ignores letter case, so a known path does too.
    return {
      pattern: patternOf(template, 'i'),
      allow: methods.map((m) => m.toUpperCase()),
      template: template.replace(/\{([^}]+)\}/g, ':$1'),
    };
  });
}

/**
 * Mounted after every route: a request that reached it matched no route. If its path is a known one
 * and its method not allowed there, answer 405; otherwise let the 404 handler answer.
 */
export function methodNotAllowed(known: readonly KnownPath[]): RequestHandler {
  return (req, res, next) => {
    const path = known.find((p) => p.pattern.test(req.path));
    if (!path || path.allow.includes(req.method)) {
      next();
      return;
    }
    res.setHeader('Allow', path.allow.join(', '));
    sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}`, {
      allow: path.allow,
    });
  };
}

/**
 * OPTIONS on a known path: 204 with `Allow`, no body. Mounted before the routers, whose automatic
 * answer would be a plain-text body (every body this API sends is JSON). `except` keeps paths with
 * their own OPTIONS handling (the codec server's CORS preflight).
 */
export function answerOptions(known: readonly KnownPath[], except: string): RequestHandler {
  return (req, res, next) => {
    const path =
      req.method === 'OPTIONS' &&
      !req.path.toLowerCase().startsWith(except) &&
      known.find((p) => p.pattern.test(req.path));
    if (!path) {
      next();
      return;
    }
    res.setHeader('Allow', path.allow.join(', '));
    res.status(204).end();
  };
}
