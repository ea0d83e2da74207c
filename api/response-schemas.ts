/**
 * The API's response shapes as zod schemas: `/openapi.json` is generated from them and the tests
 * check every response against the document, so what the handlers send cannot drift from it.
 */
import { z } from 'zod';
import { STEPS } from '../common/messages.js';

// Named in the OpenAPI document, so generated clients share one type per enum and per error part.
export const connectStepSchema = z.enum(STEPS);
export const authSlotStateSchema = z.enum(['pending', 'completed']);

export const authSlotStatusSchema = z.object({
  externalAuthId: z.string(),
  state: authSlotStateSchema,
  url: z.string().optional().describe('Dialog URL with a one-time code, while the slot is pending'),
  authId: z.string().optional(),
  lastError: z.string().optional().describe('Why the last authId sent for this slot was rejected'),
});

export const statusErrorSchema = z.object({ type: z.string(), message: z.string() });

export const connectionStatusSchema = z.object({
  connectionId: z.string(),
  runId: z.string(),
  step: connectStepSchema,
  externalUserId: z.string(),
  solutionId: z.string(),
  userId: z.string().optional(),
  solutionInstanceId: z.string().optional(),
  authSlots: z.array(authSlotStatusSchema),
  deadline: z
    .string()
    .optional()
    .meta({ description: 'When the auth wait times out (RFC 3339, UTC)', format: 'date-time' }),
  error: statusErrorSchema.optional(),
  existing: z.boolean().optional().describe('POST only: true when a running saga was returned'),
});

/** A slot as a list item shows it: a list never hands out one-time codes, so never a `url`. */
export const listedAuthSlotSchema = z
  .strictObject(authSlotStatusSchema.omit({ url: true }).shape)
  .describe('An auth slot in a list item: as in the status object, without `url`');

export const connectionListItemSchema = connectionStatusSchema
  .omit({ existing: true })
  .extend({ authSlots: z.array(listedAuthSlotSchema) })
  .describe('A status object without URLs (GET the connection for them)');

export const connectionListSchema = z.object({
  connections: z.array(connectionListItemSchema).describe('Newest first'),
  nextPageToken: z.string().optional().describe('Pass as ?pageToken= for the next page; absent on the last'),
});

export const reissueResultSchema = z.object({ externalAuthId: z.string(), url: z.string() });

export const webhookAcceptedSchema = z.object({
  accepted: z.literal(true),
  connectionId: z.string(),
  externalAuthId: z.string(),
  eventId: z.string(),
});

export const cancelAcceptedSchema = z.object({
  connectionId: z.string(),
  runId: z.string(),
  cancelRequested: z.literal(true),
});

export const inputProblemSchema = z
  .object({ path: z.string(), message: z.string() })
  .describe('One problem with the input: where (`authSlots.1`, `?wait`) and what');
export const allowedMethodsSchema = z
  .object({ allow: z.array(z.string()) })
  .describe("A 405's methods, as in its Allow header");

export const apiErrorSchema = z.object({
  code: z.string().describe('Machine-readable code, e.g. invalid_input, not_found, connection_closed'),
  message: z.string(),
  details: z
    .union([z.array(inputProblemSchema).describe('Every problem, where and what'), allowedMethodsSchema])
    .optional(),
});

export const errorBodySchema = z.object({ error: apiErrorSchema });
