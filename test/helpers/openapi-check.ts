/**
 * Checks answers against the OpenAPI document: a status code the API sends on a route must be listed
 * there. `recordingHandler` wraps an app so every answer a test provokes is recorded;
 * `undocumentedAnswers` lists those the document does not allow.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export interface Answer {
  method: string;
  path: string;
  status: number;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

type PathItem = Record<string, { responses?: Record<string, unknown> } | unknown>;

function templateMatches(template: string, path: string): boolean {
  const literal = template.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${literal.join('[^/]+')}/?$`).test(path);
}

function codesOf(operation: unknown): string[] {
  return Object.keys((operation as { responses?: Record<string, unknown> } | undefined)?.responses ?? {});
}

/** Why `answer` is not documented, or undefined when it is. */
export function undocumented(doc: Record<string, unknown>, answer: Answer): string | undefined {
  const paths = doc.paths as Record<string, PathItem>;
  const status = String(answer.status);
  const entry = Object.entries(paths).find(([template]) => templateMatches(template, answer.path));
  const where = `${answer.method} ${answer.path} → ${status}`;
  if (!entry) {
    // Unknown routes are 404; below /v1/connections the access check answers first.
    return ['404', '401', '403'].includes(status) ? undefined : `${where}: no documented path`;
  }
  const [template, item] = entry;
  let method = answer.method.toLowerCase();
  if (method === 'head' && !item.head) method = 'get';
  const operation = item[method];
  if (operation) {
    return codesOf(operation).includes(status) ? undefined : `${where}: not in ${method} ${template}`;
  }
  if (method === 'options') return undefined; // express answers OPTIONS with the allowed methods
  // A method the path lacks: 405, unless the access check or the body parser answered first.
  const others = Object.keys(item)
    .filter((key) => METHODS.includes(key))
    .flatMap((key) => codesOf(item[key]).filter((code) => code >= '400'));
  const components = doc.components as { responses?: Record<string, unknown> };
  if (status === '405' && components.responses?.MethodNotAllowed) return undefined;
  return others.includes(status)
    ? undefined
    : `${where}: ${template} has no ${method}, and ${status} is none of its errors`;
}

/** Every recorded answer the document does not allow. */
export function undocumentedAnswers(doc: Record<string, unknown>, answers: Answer[]): string[] {
  return [...new Set(answers.map((a) => undocumented(doc, a)).filter((p): p is string => p !== undefined))];
}

/** Wraps a request listener (an express app), recording each answer's method, path and status. */
export function recordingHandler(app: RequestListener, answers: Answer[]): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    // Read now: express rewrites req.url while routing through mounted routers.
    const path = (req.url ?? '/').split('?')[0]!;
    res.on('finish', () => {
      answers.push({ method: req.method ?? 'GET', path, status: res.statusCode });
    });
    app(req, res);
  };
}
