/**
 * The route template a request matched (`/v1/connections/:id`), for metric labels and span names:
 * paths carry ids, templates do not. Express sets `req.route` when a route matches, while `req.baseUrl`
 * still holds the mount path; once a handler fails out of its router the base is reset. So the
 * template is taken at that moment, through an accessor on `req.route`.
 */
import type { Request, RequestHandler } from 'express';

/** The label for requests no route answered: unknown paths, and ones refused before routing. */
export const UNMATCHED_ROUTE = 'unmatched';

const TEMPLATE = Symbol('routeTemplate');
type Tracked = Request & { [TEMPLATE]?: string };

/** Middleware (mount first) that remembers the matched route's full template on the request. */
export function trackRouteTemplate(): RequestHandler {
  return (req, _res, next) => {
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

/** The template of the route that answered `req`, or UNMATCHED_ROUTE. */
export function routeTemplate(req: Request): string {
  return (req as Tracked)[TEMPLATE] ?? UNMATCHED_ROUTE;
}
