/**
 * GET /v1/connections' query string: the filters (externalUserId, solutionId, step), the page size
 * and the page token, each checked by the input rules, every problem reported at once; and the
 * Temporal visibility query the filters make.
 */
import type { Request } from 'express';
import { idProblem } from '../common/input.js';
import { SEARCH_ATTRIBUTES, STEPS, WORKFLOW_TYPE, type ConnectStep } from '../common/messages.js';
import { isStep } from '../common/status-view.js';
import { ApiError } from './errors.js';
import type { Problem } from './schemas.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
const PARAMETERS = ['externalUserId', 'solutionId', 'step', 'pageSize', 'pageToken'] as const;

export interface ListRequest {
  externalUserId?: string;
  solutionId?: string;
  step?: ConnectStep;
  pageSize: number;
  /** The server's page token, decoded from the opaque one the API handed out. */
  pageToken?: Buffer;
}

/** The opaque page token the API hands out: base64url of the server's token. */
export const encodePageToken = (token: Uint8Array): string => Buffer.from(token).toString('base64url');

function decodePageToken(raw: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(raw)) return undefined;
  const token = Buffer.from(raw, 'base64url');
  return token.length > 0 && token.toString('base64url') === raw ? token : undefined;
}

function pageSizeOf(raw: string): number | undefined {
  if (!/^[0-9]{1,3}$/.test(raw)) return undefined;
  const size = Number(raw);
  return size >= 1 && size <= MAX_PAGE_SIZE ? size : undefined;
}

/** Checks one present, single-valued parameter; answers the problem's message or undefined. */
function parameterProblem(
  name: (typeof PARAMETERS)[number],
  value: string,
  out: ListRequest,
): string | undefined {
  switch (name) {
    case 'externalUserId':
      out.externalUserId = value;
      return idProblem(name, value);
    case 'solutionId':
      out.solutionId = value;
      return idProblem(name, value) ?? (value.includes(':') ? `${name} must not contain ':'` : undefined);
    case 'step':
      if (!isStep(value)) return `step must be one of ${STEPS.join(', ')}`;
      out.step = value;
      return undefined;
    case 'pageSize': {
      const size = pageSizeOf(value);
      if (size === undefined) return `pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}`;
      out.pageSize = size;
      return undefined;
    }
    case 'pageToken':
      out.pageToken = decodePageToken(value);
      return out.pageToken ? undefined : 'pageToken is not a token this API handed out';
  }
}

/** The list request from `req.query`; a 400 naming every bad or unknown parameter. */
export function parseListRequest(req: Request): ListRequest {
  const out: ListRequest = { pageSize: DEFAULT_PAGE_SIZE };
  const problems: Problem[] = [];
  for (const [name, value] of Object.entries(req.query)) {
    const path = `?${name}`;
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      problems.push({ path, message: `unknown parameter; known: ${PARAMETERS.join(', ')}` });
    } else if (typeof value !== 'string') {
      problems.push({ path, message: `${name} must be given once, as a plain value` });
    } else {
      const message = parameterProblem(name as (typeof PARAMETERS)[number], value, out);
      if (message) problems.push({ path, message });
    }
  }
  if (problems.length > 0) throw new ApiError(400, 'invalid_input', 'The request is invalid', problems);
  return out;
}

/** A string literal for Temporal's visibility query language: quoted, `\` and `"` escaped. */
export function visibilityString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The visibility query for the filters: this project's sagas only, each filter an exact match. */
export function visibilityQuery(request: ListRequest): string {
  const clauses = [`WorkflowType = ${visibilityString(WORKFLOW_TYPE)}`];
  const filters: [string, string | undefined][] = [
    [SEARCH_ATTRIBUTES.externalUserId.name, request.externalUserId],
    [SEARCH_ATTRIBUTES.solutionId.name, request.solutionId],
    [SEARCH_ATTRIBUTES.step.name, request.step],
  ];
  for (const [attribute, value] of filters) {
    if (value !== undefined) clauses.push(`${attribute} = ${visibilityString(value)}`);
  }
  return clauses.join(' AND ');
}
