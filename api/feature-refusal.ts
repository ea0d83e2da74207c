/**
 * A Temporal server that refuses a call the API makes, not for its credentials but because the
 * namespace has the feature switched off (an older server's defaults for workflow updates and
 * update-with-start) or the server predates the call. Told apart from a credentials refusal, which
 * shares its gRPC code, so the operator is sent to the right setting.
 */
import { isGrpcServiceError } from '@temporalio/client';
import { causeChain } from '../lib/cause-chain.js';
import { GrpcStatus } from '../lib/grpc-status.js';

const UNKNOWN_CALL = 'a call it does not implement';

/** The server settings that switch on what connect-saga needs. */
export const UPDATE_SETTINGS =
  'frontend.enableUpdateWorkflowExecution and frontend.enableExecuteMultiOperation';

/**
 * What the server refused, in its own words ("UpdateWorkflowExecution operation", "ExecuteMultiOperation
 * API", "List", or the unknown method), when `err` or a cause is such a refusal; else undefined.
 */
export function featureRefusal(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    if (!isGrpcServiceError(e)) continue;
    const texts = [e.message, e.details];
    if (e.code === GrpcStatus.PERMISSION_DENIED) {
      for (const text of texts) {
        const disabled = /([\w .-]*?)\s+(?:is|are) disabled on this namespace/i.exec(text);
        if (disabled?.[1]) return disabled[1].trim();
      }
    }
    if (e.code === GrpcStatus.UNIMPLEMENTED) {
      for (const text of texts) {
        const method = /unknown method (\w+)/i.exec(text);
        if (method?.[1]) return method[1];
      }
      return UNKNOWN_CALL;
    }
  }
  return undefined;
}

/** `featureRefusal`, when what was refused is workflow updates or update-with-start (the calls POST waits with). */
export function updateRefusal(err: unknown): string | undefined {
  const what = featureRefusal(err);
  return what !== undefined && isUpdateFeature(what) ? what : undefined;
}

const isUpdateFeature = (what: string) => /update|multioperation/i.test(what) || what === UNKNOWN_CALL;

/** The operator's line for the log: what was refused and where to switch it on. */
export function featureRefusalAdvice(what: string): string {
  const needs = isUpdateFeature(what)
    ? `connect-saga needs workflow updates and update-with-start; set ${UPDATE_SETTINGS} to true`
    : 'connect-saga uses it; switch it on';
  return `the Temporal server refuses ${what} on this namespace: ${needs} in the server's dynamic config (README, Troubleshooting)`;
}

/**
 * The warning for refused updates, at start and on POST: the advice, and what the API does meanwhile.
 * A reissue is a plain update, so a server that refuses only update-with-start still takes it.
 */
export function updateRefusalWarning(what: string): string {
  const reissues = /multioperation/i.test(what) ? '' : ', and reissues answer 503';
  return `${featureRefusalAdvice(what)}; meanwhile POST waits by querying the saga${reissues}`;
}
