import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import {
  execute,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type OperationDefinitionNode,
} from 'graphql';
import type { FaultInjector, FaultKind } from './faults.js';
import { createRootValue, type RequestContext } from './resolvers.js';
import { traySchema } from './schema.js';
import type { RequestLog } from './request-log.js';
import type { EmulatorStore } from './store.js';

export type TokenKind = 'master' | 'user' | 'none' | 'invalid';

/** One POST /graphql as the emulator saw it (never the token or the variables). */
export interface RecordedRequest {
  at: number;
  /** Root field names of the executed operation, one per (aliased) field. */
  operations: string[];
  tokenKind: TokenKind;
  /** True when the operation ran without errors (for dropResponseAfterCommit: ran, response withheld). */
  ok: boolean;
  status: number;
  fault?: FaultKind;
}

interface GraphqlHandlerDeps {
  store: EmulatorStore;
  faults: FaultInjector;
  masterToken: string;
  requests: RequestLog;
  log: (line: string) => void;
}

type Reply = (status: number, payload: unknown, ok: boolean) => void;

/** A POST /graphql body, parsed as far as it goes. */
interface GraphqlRequest {
  query?: string;
  operationName?: string;
  variables: Record<string, unknown>;
  document?: DocumentNode;
  syntaxError?: GraphQLError;
  /** What validation against the schema found in `document`. */
  invalid: readonly GraphQLError[];
  operation?: OperationDefinitionNode | null;
  /** Root field names of `operation`: what faults match and the request log names. */
  operations: string[];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

const unauthorized = { errors: [{ message: 'Unauthorized', extensions: { code: 'unauthorized' } }] };

function validationFailed(errors: readonly GraphQLError[]) {
  return {
    errors: errors.map((e) => ({
      message: e.message,
      ...(e.locations ? { locations: e.locations } : {}),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    })),
  };
}

/** A GraphQL error answer with HTTP 200 and `data: null`, as Tray sends business errors. */
const errorAnswer = (message: string, code: string, name: string) => ({
  data: null,
  errors: [{ message, extensions: { code, name } }],
});

function rootFieldNames(operation: OperationDefinitionNode | null | undefined): string[] {
  if (!operation) return [];
  return operation.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD ? [s.name.value] : []));
}

/**
 * Parsed and validated documents by query text. A client sends the same few query texts over and
 * over, and parsing plus validating them again was most of the emulator's CPU under a burst; both
 * are pure functions of the text, so every request is still checked, once per distinct text.
 */
const PARSED_CACHE_SIZE = 256;
type Parsed = Pick<GraphqlRequest, 'document' | 'syntaxError' | 'invalid'>;
const parsed = new Map<string, Parsed>();

function parseAndValidate(query: string): Parsed {
  const hit = parsed.get(query);
  if (hit) return hit;
  let entry: Parsed;
  try {
    const document = parse(query);
    entry = { document, invalid: validate(traySchema, document) };
  } catch (e) {
    entry = { syntaxError: e instanceof GraphQLError ? e : new GraphQLError(String(e)), invalid: [] };
  }
  if (parsed.size >= PARSED_CACHE_SIZE) parsed.clear();
  parsed.set(query, entry);
  return entry;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseRequest(body: unknown): GraphqlRequest {
  const query = isRecord(body) && typeof body.query === 'string' ? body.query : undefined;
  const operationName =
    isRecord(body) && typeof body.operationName === 'string' ? body.operationName : undefined;
  const variables = isRecord(body) && isRecord(body.variables) ? body.variables : {};
  const { document, syntaxError, invalid } = query !== undefined ? parseAndValidate(query) : { invalid: [] };
  const operation = document ? getOperationAST(document, operationName) : undefined;
  const operations = rootFieldNames(operation);
  return { query, operationName, variables, document, syntaxError, invalid, operation, operations };
}

/** Resolves a bearer header to the caller; the master token is compared in constant time. */
function tokenResolver(store: EmulatorStore, masterToken: string) {
  const masterDigest = digest(masterToken);
  return (header: string | undefined): { kind: TokenKind; context?: RequestContext } => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match?.[1]) return { kind: 'none' };
    const token = match[1];
    if (timingSafeEqual(digest(token), masterDigest))
      return { kind: 'master', context: { tokenKind: 'master' } };
    const userId = store.userForToken(token);
    if (userId) return { kind: 'user', context: { tokenKind: 'user', userId } };
    return { kind: 'invalid' };
  };
}

/** Answers in place of Tray when the fault says so (true); a delay only holds the request first. */
async function answerWithFault(
  fault: { kind: FaultKind; delayMs: number; retryAfter?: string },
  res: Response,
  reply: Reply,
): Promise<boolean> {
  switch (fault.kind) {
    case 'http500':
      reply(500, { errors: [{ message: 'Internal Server Error' }] }, false);
      return true;
    case 'http429':
      res.set('Retry-After', fault.retryAfter ?? '1');
      reply(429, { errors: [{ message: 'Too Many Requests' }] }, false);
      return true;
    case 'rateLimitError':
      reply(200, errorAnswer('Rate limit exceeded', 'access_not_allowed', 'PreconditionError'), false);
      return true;
    case 'permanentError':
      reply(200, errorAnswer('Injected permanent error', 'bad_request', 'ValidationError'), false);
      return true;
    case 'delay':
      await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      return false;
    default:
      return false;
  }
}

/** Why the request cannot run, as the validation-failed answer; `undefined` when it can. */
function validationAnswer(request: GraphqlRequest) {
  const { query, document, operation, operationName, invalid } = request;
  if (query === undefined)
    return validationFailed([new GraphQLError('Must provide a query string in the request body.')]);
  if (!document) return validationFailed([request.syntaxError ?? new GraphQLError('Syntax error')]);
  if (invalid.length > 0) return validationFailed(invalid);
  if (!operation) {
    return validationFailed([
      new GraphQLError(`Unknown or ambiguous operation: ${operationName ?? '(unnamed)'}`),
    ]);
  }
  const coerced = getVariableValues(traySchema, operation.variableDefinitions ?? [], request.variables);
  return coerced.errors ? validationFailed(coerced.errors) : undefined;
}

/** The POST /graphql handler: token check, fault injection, schema validation and execution. */
export function createGraphqlHandler(deps: GraphqlHandlerDeps) {
  const { faults, requests, log } = deps;
  const rootValue = createRootValue(deps.store);
  const resolveToken = tokenResolver(deps.store, deps.masterToken);

  return async (req: Request, res: Response): Promise<void> => {
    const token = resolveToken(req.get('authorization'));
    const request = parseRequest(req.body);
    const { operations } = request;
    const fault = faults.take(operations);
    const faultNote = fault ? ` fault=${fault.kind}` : '';
    const reply: Reply = (status, payload, ok) => {
      requests.push({
        at: Date.now(),
        operations,
        tokenKind: token.kind,
        ok,
        status,
        ...(fault ? { fault: fault.kind } : {}),
      });
      log(
        `graphql ${operations.join(',') || '-'} token=${token.kind} -> ${status}${ok ? '' : ' (errors)'}${faultNote}`,
      );
      res.status(status).json(payload);
    };

    if (fault && (await answerWithFault(fault, res, reply))) return;
    if (!token.context) return reply(401, unauthorized, false);
    const invalid = validationAnswer(request);
    if (invalid) return reply(200, invalid, false);

    const result = await execute({
      schema: traySchema,
      document: request.document!,
      rootValue,
      contextValue: token.context,
      variableValues: request.variables,
      operationName: request.operationName,
    });
    const ok = !result.errors?.length;

    if (fault?.kind === 'dropResponseAfterCommit') {
      requests.push({ at: Date.now(), operations, tokenKind: token.kind, ok, status: 0, fault: fault.kind });
      log(`graphql ${operations.join(',')} token=${token.kind} -> response dropped after commit (injected)`);
      req.socket.destroy();
      return;
    }
    return reply(200, result, ok);
  };
}
