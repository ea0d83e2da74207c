/**
 * What a Tray error says, read from its code (in any spelling, or an HTTP status put there), its
 * `extensions.name`, and, when neither names a known kind, its words. `tray-errors.ts` turns the
 * kind into the failure Temporal sees.
 */
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import type { GraphQLErrorLike } from './tray-http.js';

/** Codes by meaning, compared lower-cased without separators: `NOT_FOUND`, `not-found`, `NotFound`. */
const CODE_TYPES: Record<string, string> = {
  forbidden: TRAY_FAILURE_TYPES.forbidden,
  unauthorized: TRAY_FAILURE_TYPES.forbidden,
  unauthorised: TRAY_FAILURE_TYPES.forbidden,
  unauthenticated: TRAY_FAILURE_TYPES.forbidden,
  accessdenied: TRAY_FAILURE_TYPES.forbidden,
  permissiondenied: TRAY_FAILURE_TYPES.forbidden,
  authenticationerror: TRAY_FAILURE_TYPES.forbidden,
  authenticationfailed: TRAY_FAILURE_TYPES.forbidden,
  invalidtoken: TRAY_FAILURE_TYPES.forbidden,
  tokenexpired: TRAY_FAILURE_TYPES.forbidden,
  notfound: TRAY_FAILURE_TYPES.notFound,
  graphqlvalidationfailed: TRAY_FAILURE_TYPES.validation,
  graphqlparsefailed: TRAY_FAILURE_TYPES.validation,
  baduserinput: TRAY_FAILURE_TYPES.validation,
  badrequest: TRAY_FAILURE_TYPES.validation,
  validationerror: TRAY_FAILURE_TYPES.validation,
  invalidinput: TRAY_FAILURE_TYPES.validation,
  conflict: TRAY_FAILURE_TYPES.permanent,
  alreadyexists: TRAY_FAILURE_TYPES.permanent,
  internalservererror: TRAY_FAILURE_TYPES.transient,
  internalerror: TRAY_FAILURE_TYPES.transient,
  serviceunavailable: TRAY_FAILURE_TYPES.transient,
  unavailable: TRAY_FAILURE_TYPES.transient,
  timeout: TRAY_FAILURE_TYPES.transient,
  timedout: TRAY_FAILURE_TYPES.transient,
  gatewaytimeout: TRAY_FAILURE_TYPES.transient,
  badgateway: TRAY_FAILURE_TYPES.transient,
  temporarilyunavailable: TRAY_FAILURE_TYPES.transient,
  tryagain: TRAY_FAILURE_TYPES.transient,
  tryagainlater: TRAY_FAILURE_TYPES.transient,
  // A proxy's words for a backend it could not reach (Envoy's "upstream connect error").
  upstreamerror: TRAY_FAILURE_TYPES.transient,
  upstreamconnecterror: TRAY_FAILURE_TYPES.transient,
  upstreamtimeout: TRAY_FAILURE_TYPES.transient,
  serverbusy: TRAY_FAILURE_TYPES.transient,
  overloaded: TRAY_FAILURE_TYPES.transient,
};

/** A code that is an HTTP status (`503`, as some servers put in `extensions.code`), by meaning. */
function statusCodeType(code: string | undefined): string | undefined {
  if (code === undefined || !/^\d{3}$/.test(code.trim())) return undefined;
  const status = Number(code);
  if (status >= 500 || status === 408) return TRAY_FAILURE_TYPES.transient;
  if (status === 401 || status === 403) return TRAY_FAILURE_TYPES.forbidden;
  if (status === 404) return TRAY_FAILURE_TYPES.notFound;
  if (status === 400 || status === 422) return TRAY_FAILURE_TYPES.validation;
  return undefined;
}

const RATE_LIMIT_WORDS = /rate[\s_-]?limit|too[\s_-]?many[\s_-]?requests|throttl/i;
// Only for an answer whose code says nothing known: the words Tray's own messages would use. A
// token's own text, or a word such as "provided", may stand between "token" and what is wrong.
const FORBIDDEN_WORDS =
  /\b(?:un|not\s+)authori[sz]ed\b|\b(?:un|not\s+)authenticated\b|\bauthentication\s+(?:failed|required)\b|\b(?:invalid|expired|revoked|bad)\s+(?:access\s+|user\s+|bearer\s+)?(?:token|jwt|credentials)\b|\bnot\s+a\s+valid\s+(?:access\s+|user\s+)?token\b|\b(?:token|jwt|session)\b(?:\s+\S+){0,2}?\s+(?:(?:is|was|has(?:\s+been)?)\s+)?(?:not\s+valid|no\s+longer\s+valid|invalid|expired|revoked|malformed)\b|\b(?:token|jwt|session)\s+(?:was\s+)?not\s+found\b|\bforbidden\b|\bpermission denied\b|\baccess (?:denied|not allowed)\b/i;
// graphql-js's own words when `viewer` resolves to null, which a server does for a token it does not take.
const NO_VIEWER_WORDS = /\bnon-nullable field (?:Query\.)?viewer\b/i;
const NOT_FOUND_WORDS = /\bnot\s+found\b|\bdoes\s*n[o']t\s+exist\b|\bno\s+such\b/i;
// A failing server's words, in an answer whose code says nothing known: worth the bounded retries.
// Its own missing parts (a file, a table, a host) come first: read as "not found", they would let
// a search find nothing and a removal count a live instance as gone.
const TRANSIENT_WORDS =
  /\binternal\s+(?:server\s+)?error\b|\b(?:temporarily|service)\s+unavailable\b|\btimed?[\s_-]?out\b|\bupstream\s+(?:connect\s+error|request\s+timeout|unavailable)\b|\breset\s+before\s+headers\b|\bbad\s+gateway\b|\btry\s+again\s+later\b|\bserver\s+(?:is\s+)?(?:busy|overloaded)\b|\bno\s+such\s+(?:file|directory|table|column|host)\b|\brelation\b.*\bdoes\s+not\s+exist\b|\bE(?:NOENT|CONNREFUSED|CONNRESET|TIMEDOUT|HOSTUNREACH|NOTFOUND|AI_AGAIN|PIPE)\b/i;

function normalizedCode(code: string | undefined): string {
  return (code ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** `extensions.code` as text (some servers send a number), or undefined. */
export function codeOf(error: GraphQLErrorLike): string | undefined {
  const raw = error.extensions?.code;
  return typeof raw === 'string' || typeof raw === 'number' ? String(raw) : undefined;
}

export function messageOf(error: GraphQLErrorLike): string {
  return typeof error.message === 'string' ? error.message : '';
}

export function isRateLimitError(error: GraphQLErrorLike): boolean {
  const code = codeOf(error);
  const extensions = error.extensions;
  return (
    RATE_LIMIT_WORDS.test(messageOf(error)) ||
    (code !== undefined && (RATE_LIMIT_WORDS.test(code) || code === '429')) ||
    extensions?.status === 429 ||
    extensions?.http?.status === 429 ||
    (code === 'access_not_allowed' &&
      extensions?.name === 'PreconditionError' &&
      !isPermissionRefusal(messageOf(error)))
  );
}

// Tray's rate limit comes as `access_not_allowed` / PreconditionError, a pair whose words also fit a
// refused permission. Words that name a permission and nothing of a limit are that, and fail the step
// (retried for ever, a refusal would hold the saga in its step); anything else is the rate limit,
// which must never fail a saga.
const PERMISSION_WORDS =
  /\bnot\s+allowed\s+to\b|\bpermission\b|\bforbidden\b|\bdenied\b|\bunauthori[sz]ed\b/i;
const LIMIT_WORDS =
  /limit|quota|throttl|exceed|allowance|\brate\b|\busage\b|throughput|too\s+many|\brequests?\b|slow\s+down|\bretry\b|\btry\s+again\b/i;

function isPermissionRefusal(message: string): boolean {
  return PERMISSION_WORDS.test(message) && !LIMIT_WORDS.test(message);
}

/** The type `extensions.name` names (`ForbiddenError`, `NotFoundError`), for a code that says nothing known. */
export function nameType(error: GraphQLErrorLike): string | undefined {
  const name = error.extensions?.name;
  const key = normalizedCode(typeof name === 'string' ? name : undefined);
  // Own keys only: a code such as `constructor` must not find Object.prototype's.
  if (Object.hasOwn(CODE_TYPES, key)) return CODE_TYPES[key];
  const bare = key.replace(/error$/, '');
  return Object.hasOwn(CODE_TYPES, bare) ? CODE_TYPES[bare] : undefined;
}

/** The type an error's code or `extensions.name` names, or graphql-js's own words for a null viewer. */
export function namedType(code: string | undefined, message: string, byName?: string): string | undefined {
  const key = normalizedCode(code);
  if (Object.hasOwn(CODE_TYPES, key)) return CODE_TYPES[key] as string;
  if (byName) return byName;
  return code === undefined && NO_VIEWER_WORDS.test(message) ? TRAY_FAILURE_TYPES.forbidden : undefined;
}

/** The failure type of a GraphQL-level answer whose code and name say nothing known: by status, then words. */
export function answerType(status: number, code: string | undefined, message: string): string {
  const byStatusCode = statusCodeType(code);
  if (byStatusCode) return byStatusCode;
  if (status === 403) return TRAY_FAILURE_TYPES.forbidden;
  if (FORBIDDEN_WORDS.test(message) || NO_VIEWER_WORDS.test(message)) return TRAY_FAILURE_TYPES.forbidden;
  if (TRANSIENT_WORDS.test(message)) return TRAY_FAILURE_TYPES.transient;
  if (NOT_FOUND_WORDS.test(message)) return TRAY_FAILURE_TYPES.notFound;
  return TRAY_FAILURE_TYPES.permanent;
}
