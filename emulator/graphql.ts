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
  requests: RecordedRequest[];
  log: (line: string) => void;
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

function rootFieldNames(operation: OperationDefinitionNode | null | undefined): string[] {
  if (!operation) return [];
  return operation.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD ? [s.name.value] : []));
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The POST /graphql handler: token check, fault injection, schema validation and execution. */
export function createGraphqlHandler(deps: GraphqlHandlerDeps) {
  const { store, faults, requests, log } = deps;
  const rootValue = createRootValue(store);
  const masterDigest = digest(deps.masterToken);

  const resolveToken = (header: string | undefined): { kind: TokenKind; context?: RequestContext } => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match?.[1]) return { kind: 'none' };
    const token = match[1];
    if (timingSafeEqual(digest(token), masterDigest))
      return { kind: 'master', context: { tokenKind: 'master' } };
    const userId = store.userForToken(token);
    if (userId) return { kind: 'user', context: { tokenKind: 'user', userId } };
    return { kind: 'invalid' };
  };

  return async (req: Request, res: Response): Promise<void> => {
    const token = resolveToken(req.get('authorization'));
    const body: unknown = req.body;
    const query = isRecord(body) && typeof body.query === 'string' ? body.query : undefined;
    const operationName =
      isRecord(body) && typeof body.operationName === 'string' ? body.operationName : undefined;
    const variables = isRecord(body) && isRecord(body.variables) ? body.variables : {};

    let document: DocumentNode | undefined;
    let syntaxError: GraphQLError | undefined;
    try {
      if (query !== undefined) document = parse(query);
    } catch (e) {
      syntaxError = e instanceof GraphQLError ? e : new GraphQLError(String(e));
    }
    const operation = document ? getOperationAST(document, operationName) : undefined;
    const operations = rootFieldNames(operation);

    const fault = faults.take(operations);
    const reply = (status: number, payload: unknown, ok: boolean): void => {
      requests.push({
        at: Date.now(),
        operations,
        tokenKind: token.kind,
        ok,
        status,
        ...(fault ? { fault: fault.kind } : {}),
      });
      log(
        `graphql ${operations.join(',') || '-'} token=${token.kind} -> ${status}${ok ? '' : ' (errors)'}${fault ? ` fault=${fault.kind}` : ''}`,
      );
      res.status(status).json(payload);
    };

    switch (fault?.kind) {
      case 'http500':
        return reply(500, { errors: [{ message: 'Internal Server Error' }] }, false);
      case 'http429':
        res.set('Retry-After', '1');
        return reply(429, { errors: [{ message: 'Too Many Requests' }] }, false);
      case 'rateLimitError':
        return reply(
          200,
          {
            data: null,
            errors: [
              {
                message: 'Rate limit exceeded',
                extensions: { code: 'access_not_allowed', name: 'PreconditionError' },
              },
            ],
          },
          false,
        );
      case 'permanentError':
        return reply(
          200,
          {
            data: null,
            errors: [
              {
                message: 'Injected permanent error',
                extensions: { code: 'bad_request', name: 'ValidationError' },
              },
            ],
          },
          false,
        );
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        break;
      default:
        break;
    }

    if (!token.context) return reply(401, unauthorized, false);
    if (query === undefined) {
      return reply(
        200,
        validationFailed([new GraphQLError('Must provide a query string in the request body.')]),
        false,
      );
    }
    if (!document)
      return reply(200, validationFailed([syntaxError ?? new GraphQLError('Syntax error')]), false);
    const invalid = validate(traySchema, document);
    if (invalid.length > 0) return reply(200, validationFailed(invalid), false);
    if (!operation) {
      return reply(
        200,
        validationFailed([
          new GraphQLError(`Unknown or ambiguous operation: ${operationName ?? '(unnamed)'}`),
        ]),
        false,
      );
    }
    const coerced = getVariableValues(traySchema, operation.variableDefinitions ?? [], variables);
    if (coerced.errors) return reply(200, validationFailed(coerced.errors), false);

    const result = await execute({
      schema: traySchema,
      document,
      rootValue,
      contextValue: token.context,
      variableValues: variables,
      operationName,
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
