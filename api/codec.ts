/**
 * Temporal's codec server protocol under /codec (mounted only while PAYLOAD_ENCRYPTION_KEYS is
 * set): `POST /codec/decode` and `POST /codec/encode` take and answer `{ payloads: [{ metadata,
 * data }] }` with every bytes field in base64 (proto3 JSON), so the Web UI and the CLI can show
 * decrypted payloads. Same access rule as /v1/connections unless CODEC_API_TOKEN gives /codec a token
 * of its own; CORS for the Web UI's origins.
 */
import express, { type ErrorRequestHandler, type Router, type RequestHandler } from 'express';
import { ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import type { Logger } from 'pino';
import { z } from 'zod';
import { requireClient, type GuardedRoutes } from './auth.js';
import { ApiError } from './errors.js';
import { problemsOf } from './problems.js';

export const CODEC_PATH = '/codec';
/** The Web UI sends its whole event history's payloads in one request. */
const BODY_LIMIT = '4mb';
// What the Web UI sends: with "pass access token" on, its SSO tokens in the two authorization headers.
const ALLOWED_HEADERS = 'content-type,authorization,authorization-extras,x-namespace';

/** The Web UI on its usual port under both names (`npm start`'s dev server, compose's `temporal-ui`). */
export const DEFAULT_CODEC_CORS_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];

/** Checks a comma-separated list of origins (`scheme://host[:port]`); returns them or a problem. */
export function parseOrigins(raw: string): { value: string[] } | { problem: string } {
  const origins = raw.split(',').map((o) => o.trim());
  // Every bad one at once, so a list with several mistakes is fixed in one restart.
  const bad = origins.filter((origin) => {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    return !parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin;
  });
  if (bad.length === 0) return { value: origins };
  const named = bad.map((origin) => JSON.stringify(origin)).join(', ');
  return {
    problem: `${named} ${bad.length === 1 ? 'is not an origin' : 'are not origins'} like http://localhost:8233`,
  };
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Origins of the Temporal Web UI allowed to call the endpoints from a browser (CODEC_CORS_ORIGIN). */
  corsOrigins: readonly string[];
  /**
   * CODEC_API_TOKEN: the only bearer token /codec accepts, in place of the API's. Decrypting every
   * payload in history and starting or cancelling sagas are then separate powers.
   */
  codecApiToken?: string;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
// Proto3 JSON leaves an empty list out: the CLI sends `{}` for an event without payloads.
const bodySchema = z.object({
  payloads: z
    .array(
      z.object({
        metadata: z.record(z.string(), base64).nullish(),
        data: base64.nullish(),
      }),
    )
    .nullish()
    .transform((payloads) => payloads ?? []),
});
type JsonPayload = { metadata: Record<string, string>; data: string };

function fromJson(payload: z.infer<typeof bodySchema>['payloads'][number]): Payload {
  const metadata = Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]);
  return { metadata: Object.fromEntries(metadata), data: Buffer.from(payload.data ?? '', 'base64') };
}

function toJson(payload: Payload): JsonPayload {
  const metadata = Object.entries(payload.metadata ?? {}).map(([k, v]) => [
    k,
    Buffer.from(v).toString('base64'),
  ]);
  return { metadata: Object.fromEntries(metadata), data: Buffer.from(payload.data ?? []).toString('base64') };
}

/** Origins already named in a warning; a Web UI page sends a preflight per payload. */
const ORIGINS_WARNED_LIMIT = 100;

/**
 * CORS for the configured origins; answers the browser's preflight before any access check. A
 * browser shows the page nothing of a refused preflight, and the Web UI says only "Codec Server could
 * not connect": the first refusal of each origin is logged naming it.
 */
function cors(origins: readonly string[], logger: Logger | undefined): RequestHandler {
  const warned = new Set<string>();
  const warnOnce = (origin: string) => {
    if (warned.has(origin) || !logger) return;
    if (warned.size >= ORIGINS_WARNED_LIMIT) warned.clear();
    warned.add(origin);
    logger.warn(
      { origin: origin.slice(0, 200), allowed: origins },
      'a browser page at this origin asked to use /codec, which CODEC_CORS_ORIGIN does not allow: if it is your Temporal Web UI, add its origin to CODEC_CORS_ORIGIN',
    );
  };
  return (req, res, next) => {
    const origin = req.headers.origin;
    const allowed = origin !== undefined && origins.includes(origin);
    if (allowed) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
    }
    res.setHeader('vary', 'Origin');
    if (req.method !== 'OPTIONS') {
      next();
      return;
    }
    if (!allowed) {
      if (origin !== undefined) warnOnce(origin);
      next(
        new ApiError(403, 'origin_not_allowed', `Origin ${origin ?? '(none)'} is not in CODEC_CORS_ORIGIN`),
      );
      return;
    }
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    res.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
    res.setHeader('access-control-max-age', '600');
    res.status(204).end();
  };
}

/** /codec: its own token when given, else the API's; with neither, either may be set. */
const CODEC_ROUTES: GuardedRoutes = {
  routes: '/codec',
  tokenVariable: 'CODEC_API_TOKEN',
  unset: 'neither CODEC_API_TOKEN nor API_TOKEN is set',
  toSet: 'CODEC_API_TOKEN (or API_TOKEN)',
};

/**
 * Each payload through the codec on its own, so a 422 names every payload that would not decode or
 * encode (`payloads.3`), not only the first. Anything but a ValueError is a fault of the server.
 */
async function codecEach(
  codec: PayloadCodec,
  direction: 'encode' | 'decode',
  payloads: Payload[],
): Promise<Payload[]> {
  const settled = await Promise.allSettled(payloads.map((payload) => codec[direction]([payload])));
  const problems: { path: string; message: string }[] = [];
  const result: Payload[] = [];
  settled.forEach((outcome, index) => {
    if (outcome.status === 'fulfilled') result.push(...outcome.value);
    else if (outcome.reason instanceof ValueError)
      problems.push({ path: `payloads.${index}`, message: outcome.reason.message });
    else throw outcome.reason;
  });
  if (problems.length === 0) return result;
  const first = problems.length === 1 ? (problems[0]?.message ?? '') : `${problems.length} payloads failed`;
  throw new ApiError(422, `${direction}_failed`, first, problems);
}

/** The bearer token /codec accepts: its own when CODEC_API_TOKEN is set, else the API's (or none). */
export function codecTokenOf(
  options: Pick<CodecServerOptions, 'codecApiToken'>,
  apiToken: string | undefined,
): string | undefined {
  return options.codecApiToken ?? apiToken;
}

/** The codec server's routes, to mount at `CODEC_PATH`. */
export function codecRouter(
  options: CodecServerOptions,
  apiToken: string | undefined,
  logger?: Logger,
): Router {
  const router = express.Router();
  router.use(cors(options.corsOrigins, logger));
  const tokenVariable = options.codecApiToken === undefined ? 'API_TOKEN' : CODEC_ROUTES.tokenVariable;
  router.use(
    requireClient(codecTokenOf(options, apiToken), options.corsOrigins, { ...CODEC_ROUTES, tokenVariable }),
  );
  // Not strict: a body that is JSON but no object (`null`, `"x"`) is named as such by the schema,
  // rather than called "not valid JSON".
  router.use(express.json({ limit: BODY_LIMIT, type: () => true, strict: false }));

  const route = (direction: 'encode' | 'decode') =>
    router.post(`/${direction}`, async (req, res) => {
      const body = bodySchema.safeParse(req.body === undefined ? {} : req.body);
      if (!body.success) {
        throw new ApiError(400, 'invalid_input', 'The request is invalid', problemsOf(body.error));
      }
      const payloads = body.data.payloads.map(fromJson);
      res.json({ payloads: (await codecEach(options.codec, direction, payloads)).map(toJson) });
    });
  route('decode');
  route('encode');
  router.use(((err, _req, _res, next) => {
    const tooLarge = (err as { type?: string } | undefined)?.type === 'entity.too.large';
    next(tooLarge ? new ApiError(413, 'payload_too_large', `The request body exceeds ${BODY_LIMIT}`) : err);
  }) as ErrorRequestHandler);
  return router;
}
