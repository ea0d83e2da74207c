/**
 * The route template a request matched (`/v1/connections/:id`), for metric labels and span names:
 * paths carry ids, templates do not. Express sets `req.route` when a route matches, while `req.baseUrl`
 * still holds the mount path; once a handler fails out of its router the base is reset. So the
 * template is taken at that moment, through an accessor on `req.route`.
 */
import type { Request, RequestHandler } from 'express';
import type { KnownPath } from './method-not-allowed.js';

/** The label for requests to paths the API does not serve. */
export const UNMATCHED_ROUTE = 'unmatched';

const TEMPLATE = Symbol('routeTemplate');
const DOCUMENTED = Symbol('documentedPaths');
type Tracked = Request & { [TEMPLATE]?: string; [DOCUMENTED]?: readonly KnownPath[] };

/**
 * Middleware (mount first) that remembers the matched route's full template on the request.
 * `documented` (the OpenAPI paths, see knownPaths) labels requests refused before any route
 * matched (401, 413, bad JSON, 405) by the path they were for, so those failures show per route.
 */
export function trackRouteTemplate(documented: readonly KnownPath[] = []): RequestHandler {
  return (req, _res, next) => {
    (req as Tracked)[DOCUMENTED] = documented;
    let route: unknown = req.route;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => route,
      set: (value: { path?: unknown } | undefined) => {
        route = value;
        // A router's own root ('/') under its mount path is the mount path itself. Routing ignores
        // case, so the mount path is lower-cased: `/V1/Connections` is not a label of its own.
        if (typeof value?.path === 'string') {
          (req as Tracked)[TEMPLATE] = `${req.baseUrl.toLowerCase()}${value.path}`.replace(/(.)\/$/, '$1');
        }
      },
    });
    next();
  };
}

/** The template of the route that answered `req`, else of the documented path it was for, else UNMATCHED_ROUTE. */
export function routeTemplate(req: Request): string {
  const tracked = req as Tracked;
  if (tracked[TEMPLATE] !== undefined) return tracked[TEMPLATE];
  // originalUrl: inside a router that answered, req.url is still cut down to the router's part.
  const path = (req.originalUrl ?? req.url).split('?')[0] ?? '';
  return tracked[DOCUMENTED]?.find((p) => p.pattern.test(path))?.template ?? UNMATCHED_ROUTE;
}
