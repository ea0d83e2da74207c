/**
 * The one list of log paths both the worker's and the API's pino loggers blank out, so a credential
 * kept out of one log cannot leak through the other.
 */

/** Keys blanked at the top level of a log line and one level down. */
const SECRET_KEYS = [
  'token',
  'accessToken',
  'masterToken',
  'userToken',
  'apiToken',
  'codecApiToken',
  'authorization',
  'password',
  'secret',
  'webhookSecret',
  // The SDK adds an activity's task token to each of its log lines; with it anyone who can reach
  // the Temporal frontend could complete or fail that activity. The SDK's core names it task_token.
  'taskToken',
  'task_token',
];

/** Request headers that carry credentials, as the API's request and error objects hold them. */
const SECRET_HEADERS = [
  'req.headers.authorization',
  'req.headers["webhook-signature"]',
  'headers.authorization',
  'headers["webhook-signature"]',
];

export const REDACT_PATHS = [...SECRET_HEADERS, ...SECRET_KEYS, ...SECRET_KEYS.map((key) => `*.${key}`)];

/** pino's `redact` option for every logger of the project. */
export const REDACT = { paths: REDACT_PATHS, censor: '[redacted]' };
