/**
 * Checks answers against the OpenAPI document: a status code the API sends on a route must be listed
 * there, and the answer's body and headers must match what the document says of that code.
 * `recordingHandler` wraps an app so every answer a test provokes is recorded;
 * `undocumentedAnswers` lists those the document does not allow.
 */
import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from 'node:http';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export interface Answer {
  method: string;
  path: string;
  status: number;
  /** The headers sent, names in lower case. */
  headers?: OutgoingHttpHeaders;
  /** The body as sent (absent for HEAD and bodiless answers). */
  body?: string;
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
  const problems = answers.flatMap((a) => {
    const status = undocumented(doc, a);
    return status === undefined ? mismatches(doc, a) : [status];
  });
  return [...new Set(problems)];
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the document is walked loosely */
type Documented = { response: any; pointer: string } | undefined;

/** The response object the document gives for `answer` (resolving `$ref`), and its JSON pointer. */
function documentedResponse(doc: any, answer: Answer): Documented {
  const status = String(answer.status);
  const escape = (part: string) => part.replaceAll('~', '~0').replaceAll('/', '~1');
  const resolve = (response: any, pointer: string): Documented => {
    if (!response?.$ref) return response ? { response, pointer } : undefined;
    const name = String(response.$ref).split('/').pop()!;
    return { response: doc.components.responses[name], pointer: `#/components/responses/${name}` };
  };
  const entry = Object.entries(doc.paths as Record<string, any>).find(([t]) =>
    templateMatches(t, answer.path),
  );
  if (!entry) return resolve(doc.components.responses?.NotFound, '#/components/responses/NotFound');
  const [template, item] = entry;
  let method = answer.method.toLowerCase();
  if (method === 'head' && !item.head) method = 'get';
  const at = (m: string) => `#/paths/${escape(template)}/${m}/responses/${status}`;
  if (item[method]?.responses?.[status]) return resolve(item[method].responses[status], at(method));
  if (status === '405') {
    return resolve(doc.components.responses?.MethodNotAllowed, '#/components/responses/MethodNotAllowed');
  }
  // The access check or the body parser answered for a method the path lacks: as its siblings say.
  const other = METHODS.find((m) => item[m]?.responses?.[status]);
  return other ? resolve(item[other].responses[status], at(other)) : undefined;
}

const validators = new WeakMap<object, Ajv2020>();
const BRANCHES = ['allOf', 'anyOf', 'oneOf'];

/** The branches of every combinator `schema` holds, all in one list. */
const branchesOf = (schema: any): any[] =>
  BRANCHES.flatMap((key) => (Array.isArray(schema[key]) ? schema[key] : []));

/**
 * Whether `schema` (a branch of a combinator) takes an object whatever its fields, naming none
 * (`{ type: 'object' }`, `{}`): closing the schema holding it would refuse what the document allows.
 * A branch that requires or lists fields only narrows its parent.
 */
function takesAnyObject(doc: any, schema: any, seen = new Set<string>()): boolean {
  if (typeof schema !== 'object' || schema === null) return schema === true;
  if (typeof schema.$ref === 'string') {
    if (seen.has(schema.$ref)) return false;
    const target = doc.components?.schemas?.[schema.$ref.split('/').pop()];
    return takesAnyObject(doc, target, new Set([...seen, schema.$ref]));
  }
  const branches = branchesOf(schema);
  if (branches.length > 0) return branches.some((b: any) => takesAnyObject(doc, b, seen));
  if (schema.type !== undefined && ![schema.type].flat().includes('object')) return false;
  const naming = ['properties', 'additionalProperties', 'patternProperties', 'required', 'const', 'enum'];
  return naming.every((key) => schema[key] === undefined);
}

/**
 * `node` with every object schema that lists its properties closed to others: an answer carrying a
 * field the document does not name is drift a generated client cannot see. Branches of a
 * combinator are left open (closing one would refuse its siblings' fields); the schema holding
 * them is closed instead, as its unevaluatedProperties sees the fields each passing branch names.
 */
function closed(doc: any, node: any, branch = false): any {
  if (Array.isArray(node)) return node.map((item) => closed(doc, item, branch));
  if (typeof node !== 'object' || node === null) return node;
  const out = Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key, closed(doc, value, BRANCHES.includes(key))]),
  );
  const open = node.additionalProperties !== undefined || node.unevaluatedProperties !== undefined;
  const branches = branchesOf(node);
  const lists = node.type === 'object' && node.properties;
  const closable = (lists || branches.length > 0) && !branches.some((b: any) => takesAnyObject(doc, b));
  if (closable && !open && !branch) out.unevaluatedProperties = false;
  return out;
}

/** An Ajv (JSON Schema 2020-12, as OpenAPI 3.1 has it) holding `doc` as `openapi.json`. */
function ajvFor(doc: Record<string, unknown>): Ajv2020 {
  let ajv = validators.get(doc);
  if (!ajv) {
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema(closed(doc, doc), 'openapi.json');
    validators.set(doc, ajv);
  }
  return ajv;
}

const explain = (errors: ValidateFunction['errors']) =>
  (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');

/** What is wrong with `answer`'s body and headers, as the document describes its status. */
export function mismatches(doc: Record<string, unknown>, answer: Answer): string[] {
  const found = documentedResponse(doc, answer);
  if (!found || !answer.headers) return [];
  const { response, pointer } = found;
  const where = `${answer.method} ${answer.path} → ${answer.status}`;
  const problems: string[] = [];
  const headers = answer.headers;
  for (const [name, spec] of Object.entries((response.headers ?? {}) as Record<string, any>)) {
    const header = spec.$ref ? (doc as any).components.headers[String(spec.$ref).split('/').pop()!] : spec;
    const value = headers[name.toLowerCase()];
    if (value === undefined) {
      if (header.required) problems.push(`${where}: no ${name} header`);
      continue;
    }
    const type = header.schema?.type;
    const typed = type === 'integer' || type === 'number' ? Number(value) : String(value);
    const check = ajvFor(doc).compile(header.schema ?? {});
    if (!check(typed)) problems.push(`${where}: ${name}: ${JSON.stringify(value)}: ${explain(check.errors)}`);
  }
  const content = response.content as Record<string, any> | undefined;
  if (answer.method === 'HEAD' || !content) return problems;
  const sentType = String(headers['content-type'] ?? '')
    .split(';')[0]!
    .trim();
  if (!content[sentType]) {
    problems.push(
      `${where}: content-type ${sentType || '(none)'}, documented ${Object.keys(content).join(', ')}`,
    );
    return problems;
  }
  if (sentType !== 'application/json' || !content[sentType].schema) return problems;
  let body: unknown;
  try {
    body = JSON.parse(answer.body ?? '');
  } catch {
    return [...problems, `${where}: the body is not JSON`];
  }
  const mediaPointer = `${pointer}/content/${sentType.replace('/', '~1')}/schema`;
  const validate = ajvFor(doc).getSchema(`openapi.json${mediaPointer}`)!;
  if (!validate(body)) {
    problems.push(`${where}: body ${explain(validate.errors)}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  // Retry-After is optional in the document because only `temporal_busy` carries it.
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  if (code === 'temporal_busy' && response.headers?.['Retry-After'] && !headers['retry-after']) {
    problems.push(`${where}: temporal_busy without Retry-After`);
  }
  return problems;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Wraps a request listener (an express app), recording each answer's method, path, status, headers and body. */
export function recordingHandler(app: RequestListener, answers: Answer[]): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    // Read now: express rewrites req.url while routing through mounted routers.
    const path = (req.url ?? '/').split('?')[0]!;
    const chunks: Buffer[] = [];
    const keep = (chunk: unknown, encoding: unknown) => {
      if (typeof chunk === 'string') chunks.push(Buffer.from(chunk, (encoding as BufferEncoding) || 'utf8'));
      else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    };
    const { write, end } = res;
    res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      keep(chunk, rest[0]);
      return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof res.write;
    res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      if (typeof chunk !== 'function') keep(chunk, rest[0]);
      return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } as typeof res.end;
    res.on('finish', () => {
      const body = chunks.length > 0 ? Buffer.concat(chunks).toString('utf8') : undefined;
      answers.push({
        method: req.method ?? 'GET',
        path,
        status: res.statusCode,
        headers: res.getHeaders(),
        body,
      });
    });
    app(req, res);
  };
}
