/**
 * The API's request shapes (bodies, path and query parameters) as zod schemas: requests are
 * validated with them and `/openapi.json` is generated from them, so the documentation cannot
 * drift from the checks. Response shapes are in `response-schemas.ts`, problem reporting in
 * `problems.ts`.
 */
import { z } from 'zod';
import { DEFAULT_AUTH_TIMEOUT, DURATION_PATTERN } from '../common/duration.js';
import {
  checkConnectInput,
  forbiddenCharacterMessage,
  hasForbiddenCharacter,
  idPattern,
  idProblem,
} from '../common/input.js';
import { LIMITS, type JsonValue } from '../common/messages.js';
import { givenOnceProblem } from './problems.js';

/** A string, whose type error uses `idProblem`'s words, as the POST's checks do ("x is required"). */
const stringOf = (what: string) => z.string({ error: (issue) => idProblem(what, issue.input) });

/** What the documents say of every id: the pattern shows the control characters only. */
const ID_RULE =
  'No control characters (the pattern) and no lone surrogates: the API refuses those too (400), ' +
  'though no pattern portable across regex dialects can say so.';

/**
 * An id without control characters or lone surrogates, nor any of `forbidden`: ids become workflow
 * ids and Keyword search attributes (docs/design.md). The check is code, the documented pattern
 * the part of it every regex dialect can express (`idPattern`).
 */
function unicodeId(schema: z.ZodString, what: string, description: string, forbidden = '') {
  const checked = schema.refine((value) => !hasForbiddenCharacter(value), forbiddenCharacterMessage(what));
  const refused = [...forbidden];
  const withForbidden = refused.length
    ? checked.refine(
        (value) => !refused.some((c) => value.includes(c)),
        `${what} must not contain '${forbidden}'`,
      )
    : checked;
  return withForbidden.meta({ description: `${description}. ${ID_RULE}`, pattern: idPattern(forbidden) });
}

// Checks the webhook's ids and path parameters; in the connect input it only documents the rule,
// which `checkConnectInput` decides for the API and the workflow alike.
const id = (what: string, description: string, forbidden = '') =>
  unicodeId(
    stringOf(what)
      .min(1, `${what} must not be empty`)
      .max(LIMITS.maxIdLength, `${what} must be at most ${LIMITS.maxIdLength} characters`),
    what,
    description,
    forbidden,
  );

/**
 * Any JSON value. Written out rather than `z.json()` so the recursion goes through this schema,
 * which the OpenAPI document registers by name (it cannot reference an anonymous inner schema).
 */
export const jsonValueSchema: z.ZodType<JsonValue> = z.union(
  [
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(z.lazy(() => jsonValueSchema)),
    z.record(
      z.string(),
      z.lazy(() => jsonValueSchema),
    ),
  ],
  { error: (issue) => (issue.input === undefined ? 'value is required' : 'value must be a JSON value') },
);

export const configValueSchema = z.strictObject({
  externalId: id('externalId', "The config slot's externalId"),
  // Not `.describe()`d: that would clone the recursive schema and break its named reference.
  value: jsonValueSchema,
});

const connectInputShape = z.strictObject({
  externalUserId: id('externalUserId', "The partner's id for the end user"),
  userName: id('userName', 'Display name of the Tray user, used when it is created'),
  solutionId: id('solutionId', 'The Tray solution to connect; no `:`', ':'),
  instanceName: id('instanceName', 'Name of the solution instance to create').optional(),
  authSlots: z
    .array(id('authSlots entry', 'An externalAuthId, neither `.` nor `..`'))
    .min(LIMITS.minSlots, `authSlots must list at least ${LIMITS.minSlots} slot`)
    .max(LIMITS.maxSlots, `authSlots must list at most ${LIMITS.maxSlots} slots`)
    .meta({ description: 'externalAuthIds of the auth slots to fill', uniqueItems: true }),
  configValues: z
    .array(configValueSchema)
    .optional()
    .describe('Values for config slots, each config slot at most once'),
  authTimeout: z
    .string()
    .optional()
    .meta({
      description: `How long to wait for the auths: 90s, 15m, 24h, 7d, exactly so (no whitespace); 1s..30d; default ${DEFAULT_AUTH_TIMEOUT}`,
      pattern: DURATION_PATTERN,
    }),
});

/**
 * The connect input: `checkConnectInput` runs first and lists every problem with its path; only an
 * input it accepts reaches the shape (whose own checks it includes), so zod adds no rule of its own.
 */
export const connectInputSchema = z.preprocess((input, ctx) => {
  for (const { path, message } of checkConnectInput(input)) ctx.addIssue({ code: 'custom', path, message });
  return input;
}, connectInputShape);
export type ConnectInputBody = z.infer<typeof connectInputSchema>;

/** `?wait=` on POST /v1/connections: seconds, 0..30, default 10. */
export const MAX_WAIT_SECONDS = 30;
export const DEFAULT_WAIT_SECONDS = 10;
/** The digits `?wait` takes: no sign, no exponent (`1e1` is refused). */
export const WAIT_PATTERN = '^[0-9]+(\\.[0-9]+)?$';
export const waitSchema = z
  .string({ error: givenOnceProblem('wait') })
  .regex(new RegExp(WAIT_PATTERN), 'wait must be a number of seconds')
  .transform(Number)
  .pipe(z.number().min(0).max(MAX_WAIT_SECONDS, `wait must be at most ${MAX_WAIT_SECONDS} seconds`));

/** `connect:{externalUserId}:{solutionId}`: two ids of up to 200 characters each, so up to 409. */
const MAX_CONNECTION_ID_LENGTH = 2 * LIMITS.maxIdLength + 'connect::'.length;
const connectionId = (what: string, description: string) =>
  unicodeId(
    stringOf(what)
      .min(1, `${what} must not be empty`)
      .max(MAX_CONNECTION_ID_LENGTH, `${what} must be at most ${MAX_CONNECTION_ID_LENGTH} characters`),
    what,
    description,
  );
export const connectionIdParamSchema = connectionId(
  'connection id',
  'The connectionId, `connect:{externalUserId}:{solutionId}` (URL-encode it)',
);

/** The webhook body names the saga by `key` (one branch of its anyOf). */
const namedBy = (key: string) => ({
  type: 'object',
  required: [key],
  properties: { [key]: { type: 'string' } },
});

export const webhookBodySchema = z
  .object(
    {
      connectionId: connectionId('connectionId', 'The connectionId the API handed out').optional(),
      solutionInstanceId: id('solutionInstanceId', 'Or the Tray solution instance id').optional(),
      externalAuthId: id('externalAuthId', 'The auth slot that was completed'),
      authId: id('authId', 'The Tray authentication id the dialog reported'),
    },
    { error: 'the webhook body must be a JSON object' },
  )
  .refine((body) => body.connectionId !== undefined || body.solutionInstanceId !== undefined, {
    message: 'one of connectionId or solutionInstanceId is required',
    path: ['connectionId'],
    // Run even when other fields are bad, so one answer lists every problem.
    when: (payload) => typeof payload.value === 'object' && payload.value !== null,
  })
  .meta({
    description:
      'Names the saga by connectionId or by solutionInstanceId (at least one). Other keys are ignored, so a relay may forward more than these.',
    // Branches with a type and the property: openapi-typescript reads a bare `{ required }` as
    // `unknown`, which turns the whole body into `unknown` in a generated client.
    allOf: [{ anyOf: [namedBy('connectionId'), namedBy('solutionInstanceId')] }],
  });
export type WebhookBody = z.infer<typeof webhookBodySchema>;

export const externalAuthIdParamSchema = id('externalAuthId', 'The auth slot (its externalAuthId)');
