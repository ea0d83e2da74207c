/**
 * Temporal's limit of updates in flight on one workflow (10 by default): past it the server refuses
 * a reissue at once. A partner's own burst on one connection, not a Temporal outage, and worth saying.
 */
import { isGrpcServiceError } from '@temporalio/client';
import { causeChain } from '../lib/cause-chain.js';
import { GrpcStatus } from '../lib/grpc-status.js';
import { ApiError } from './errors.js';

/** The server's refusal: "limit on number of concurrent in-flight updates has been reached (10)". */
export function saysTooManyUpdates(status: { code?: unknown; details?: unknown }): boolean {
  return (
    status.code === GrpcStatus.RESOURCE_EXHAUSTED &&
    typeof status.details === 'string' &&
    /in-flight updates/i.test(status.details)
  );
}

/** `saysTooManyUpdates` for an error or one of its causes. */
export function isTooManyUpdates(err: unknown): boolean {
  for (const e of causeChain(err)) if (isGrpcServiceError(e) && saysTooManyUpdates(e)) return true;
  return false;
}

/** A reissue refused for that limit until its deadline; `temporal_busy` carries `Retry-After: 1`. */
export const tooManyReissues = () =>
  new ApiError(
    503,
    'temporal_busy',
    'Too many reissues of this connection at once (Temporal takes 10 at a time); retry shortly',
  );
