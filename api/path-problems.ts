/**
 * The problems of a request path whose segments do not percent-decode (`/v1/connections/%FF`). The
 * router refuses such a path before any route runs, so no parameter check names the culprit: this
 * does, by the documented path's parameter at the same place.
 */
import type { Request } from 'express';
import type { Problem } from './problems.js';
import { routeTemplate } from './route-template.js';

/** How much of a bad segment an answer repeats. */
const SHOWN_CHARS = 60;

/** One problem for each segment of `req`'s path that is not percent-encoded UTF-8. */
export function undecodablePathProblems(req: Request): Problem[] {
  const path = (req.originalUrl ?? req.url).split('?')[0] ?? '';
  const template = routeTemplate(req).split('/');
  const problems = path.split('/').flatMap((segment, i) => {
    try {
      decodeURIComponent(segment);
      return [];
    } catch {
      const parameter = /^\{(.+)\}$|^:(.+)$/.exec(template[i] ?? '');
      const shown = segment.length > SHOWN_CHARS ? `${segment.slice(0, SHOWN_CHARS)}…` : segment;
      return [
        {
          path: parameter?.[1] ?? parameter?.[2] ?? 'path',
          message: `"${shown}" is not valid percent-encoded UTF-8`,
        },
      ];
    }
  });
  return problems.length > 0
    ? problems
    : [{ path: 'path', message: 'the path is not valid percent-encoded UTF-8' }];
}
