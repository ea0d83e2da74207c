/**
 * GET /v1/connections' query string: the filters (externalUserId, solutionId, step), the page size
 * and the page token, each checked by the input rules, every problem reported at once; and the
 * Temporal visibility query the filters make.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { unescape as looselyDecoded } from 'node:querystring';
import type { Request } from 'express';
import { idProblem } from '../common/input.js';
import { SEARCH_ATTRIBUTES, STEPS, WORKFLOW_TYPE, type ConnectStep } from '../common/messages.js';
import { isStep, TERMINAL_STEPS } from '../common/status-view.js';
import { ApiError } from './errors.js';
import { givenOnceProblem, type Problem } from './problems.js';

type SearchAttributeKey = (typeof SEARCH_ATTRIBUTES)[keyof typeof SEARCH_ATTRIBUTES];

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
  rawPageToken?: string;
}

const TOKEN_PROBLEM = 'pageToken is not a nextPageToken this API handed out for these filters';

// The opaque token is the server's token and a check over it and the query it belongs to: a token
// the server did not make costs it an internal error (and retries until the deadline, a misleading
// 503), so the API refuses such a token itself, and one that belongs to other filters, with a 400.
// The check is keyed by the API's secrets, so a client cannot make one up.
const CHECK_BYTES = 12;

/**
 * The page tokens' key, from the API's secrets (the webhook secret, which clients do not hold, and
 * the API token), so every replica and a restarted API accept the tokens the others handed out.
 * With neither set (a local API) a random key: tokens then last as long as the process.
 */
export function pageTokenKey(secrets: readonly (string | undefined)[]): Buffer {
  const material = secrets.filter((secret): secret is string => Boolean(secret));
  if (material.length === 0) return randomBytes(32);
  return createHmac('sha256', material.join('\0')).update('connect-saga list page tokens').digest();
}

function tokenCheck(key: Buffer, token: Uint8Array, query: string): Buffer {
  return createHmac('sha256', key).update(query).update('\0').update(token).digest().subarray(0, CHECK_BYTES);
}

/** The opaque page token the API hands out for the server's `token` of `query`'s listing. */
export function encodePageToken(key: Buffer, token: Uint8Array, query: string): string {
  return Buffer.concat([token, tokenCheck(key, token, query)]).toString('base64url');
}

/** An opaque token's server token and check, if it has the shape of one. */
function tokenParts(raw: string): { token: Buffer; check: Buffer } | undefined {
  const bytes = Buffer.from(raw, 'base64url');
  if (bytes.length <= CHECK_BYTES || bytes.toString('base64url') !== raw) return undefined;
  return {
    token: bytes.subarray(0, bytes.length - CHECK_BYTES),
    check: bytes.subarray(bytes.length - CHECK_BYTES),
  };
}

/** The server's token inside an opaque one, if it was made for `query`. */
function decodePageToken(key: Buffer, raw: string, query: string): Buffer | undefined {
  const parts = tokenParts(raw);
  if (parts === undefined) return undefined;
  return timingSafeEqual(parts.check, tokenCheck(key, parts.token, query)) ? parts.token : undefined;
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
      if (!/^[A-Za-z0-9_-]{1,4000}$/.test(value)) return TOKEN_PROBLEM;
      out.rawPageToken = value;
      return undefined;
  }
}

/** True when a raw query component is percent-encoded UTF-8. */
function isPercentEncodedUtf8(raw: string): boolean {
  try {
    decodeURIComponent(raw);
    return true;
  } catch {
    return false;
  }
}

/**
 * The parameters of `url` whose raw name or value is not percent-encoded UTF-8 (`%FF`, `%ED%A0%80`,
 * a stray `%`), named as `req.query` names them. The query parser turns such bytes into U+FFFD, which
 * would look for another value than the one sent; in a path the same bytes are a 400 too.
 */
export function badlyEncodedParameters(url: string): Set<string> {
  const start = url.indexOf('?');
  const pairs = start < 0 ? [] : url.slice(start + 1).split('&');
  const names = pairs.flatMap((pair) => {
    const eq = pair.indexOf('=');
    const [name, value] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    if (isPercentEncodedUtf8(name) && isPercentEncodedUtf8(value)) return [];
    return [looselyDecoded(name.replace(/\+/g, ' '))];
  });
  return new Set(names);
}

/** The list request from `req.query`; a 400 naming every bad or unknown parameter. */
export function parseListRequest(req: Request, tokenKey: Buffer): ListRequest {
  const out: ListRequest = { pageSize: DEFAULT_PAGE_SIZE };
  const problems: Problem[] = [];
  const badlyEncoded = badlyEncodedParameters(req.originalUrl);
  for (const [name, value] of Object.entries(req.query)) {
    const path = `?${name}`;
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      problems.push({ path, message: `unknown parameter; known: ${PARAMETERS.join(', ')}` });
    } else if (badlyEncoded.has(name)) {
      problems.push({ path, message: `${name} is not valid percent-encoded UTF-8` });
    } else if (typeof value !== 'string') {
      problems.push({ path, message: givenOnceProblem(name) });
    } else {
      const message = parameterProblem(name as (typeof PARAMETERS)[number], value, out);
      if (message) problems.push({ path, message });
    }
  }
  if (out.rawPageToken !== undefined) {
    const filtersOk = problems.length === 0;
    if (filtersOk) out.pageToken = decodePageToken(tokenKey, out.rawPageToken, visibilityQuery(out));
    // The check binds the token to the filters, so beside a bad filter only its form can be judged:
    // a token not even shaped like one is listed with the other problems.
    const bad = filtersOk ? out.pageToken === undefined : tokenParts(out.rawPageToken) === undefined;
    if (bad) problems.push({ path: '?pageToken', message: TOKEN_PROBLEM });
  }
  if (problems.length > 0) throw new ApiError(400, 'invalid_input', 'The request is invalid', problems);
  return out;
}

/** A string literal for Temporal's visibility query language: quoted, `\` and `"` escaped. */
export function visibilityString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The filters as [search attribute, value] pairs. */
export function filtersOf(request: ListRequest): [SearchAttributeKey, string][] {
  const filters: [SearchAttributeKey, string | undefined][] = [
    [SEARCH_ATTRIBUTES.externalUserId, request.externalUserId],
    [SEARCH_ATTRIBUTES.solutionId, request.solutionId],
    [SEARCH_ATTRIBUTES.step, request.step],
  ];
  return filters.filter((f): f is [SearchAttributeKey, string] => f[1] !== undefined);
}

// SQL visibility stores (SQLite, PostgreSQL) do not match a value holding `"` or `\` exactly
// however it is escaped; such a value is matched on its prefix up to the first of them, and the
// API keeps only the exact matches (see `needsExactCheck`).
const UNSAFE = /["\\]/;

/** True when the visibility query only narrows this filter and the API must compare exactly. */
export const needsExactCheck = (value: string): boolean => UNSAFE.test(value);

/**
 * Closed runs whose `ConnectStep` still names a running step (terminated, or timed out by Temporal:
 * no workflow code ran to upsert it), by the step their item shows (list.ts); running steps have none.
 */
const CLOSED_WITHOUT_UPSERT: Partial<Record<ConnectStep, string[]>> = {
  completed: ['Completed'],
  cancelled: ['Canceled'],
  failed: ['Failed', 'Terminated', 'TimedOut', 'ContinuedAsNew'],
};

/**
 * The step filter: the step each item shows, not only the attribute, which a terminated run keeps at
 * the step it was in (an operator's `temporal workflow terminate`, a reset's end of the current run).
 */
function stepClause(step: ConnectStep): string {
  const attribute = `${SEARCH_ATTRIBUTES.step.name} = ${visibilityString(step)}`;
  if (!TERMINAL_STEPS.includes(step)) return `${attribute} AND ExecutionStatus = "Running"`;
  const statuses = CLOSED_WITHOUT_UPSERT[step];
  if (!statuses) return attribute;
  const terminal = TERMINAL_STEPS.map(visibilityString).join(', ');
  const closed = statuses.map(visibilityString).join(', ');
  return `(${attribute} OR (ExecutionStatus IN (${closed}) AND ${SEARCH_ATTRIBUTES.step.name} NOT IN (${terminal})))`;
}

/** The visibility query for the filters: this project's sagas only, each filter an exact match. */
export function visibilityQuery(request: ListRequest): string {
  const clauses = [`WorkflowType = ${visibilityString(WORKFLOW_TYPE)}`];
  for (const [key, value] of filtersOf(request)) {
    if (key === SEARCH_ATTRIBUTES.step) clauses.push(stepClause(value as ConnectStep));
    else if (!needsExactCheck(value)) clauses.push(`${key.name} = ${visibilityString(value)}`);
    else {
      const prefix = value.slice(0, value.search(UNSAFE));
      if (prefix !== '') clauses.push(`${key.name} STARTS_WITH ${visibilityString(prefix)}`);
    }
  }
  return clauses.join(' AND ');
}
