/**
 * GET /v1/connections: one page of sagas from Temporal visibility, newest first, filtered through the
 * search attributes. Each item is built from the memo as the workers-down GET builds it (no query, no
 * URLs: a list must not hand out one-time codes). Visibility is eventually consistent: a saga started
 * or moved a moment ago may show up, or show its new step, about a second later.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { isGrpcServiceError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
// Decodes a raw listing exactly as `client.workflow.list()` does (memo through the data converter,
// so encrypted memos read too); that iterator hides the page token a paged API needs.
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers.js';
import proto from '@temporalio/proto';
import type { ConnectionStatus } from '../common/messages.js';
import { TERMINAL_STEPS } from '../common/status-view.js';
import { ApiError, undecodablePayload } from './errors.js';
import {
  encodePageToken,
  filtersOf,
  needsExactCheck,
  parseListRequest,
  visibilityQuery,
  type ListRequest,
} from './list-query.js';
import { statusFromDescription } from './saga-reads.js';
import { rpc } from './temporal-rpc.js';
import { GrpcStatus } from '../lib/grpc-status.js';

const CLOSE_EVENT = proto.temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT;

export interface ConnectionList {
  connections: ConnectionStatus[];
  nextPageToken?: string;
}

/** What the client's `result()` says of a terminate without a reason and of a run timing out, as GET reports them. */
const TERMINATED_MESSAGE = 'Workflow execution terminated';
const TIMED_OUT_MESSAGE = 'Workflow execution timed out';

/**
 * A closed run's memo may still name the step it was in when terminated or timed out. `terminated`
 * is the terminate's reason, which GET reports as the error's message.
 */
function listItem(info: WorkflowExecutionInfo, terminated?: string): ConnectionStatus {
  const status = statusFromDescription(info);
  const closed = info.status.name;
  if (!endedMidSaga(info, status)) return status;
  switch (closed) {
    case 'COMPLETED':
      return { ...status, step: 'completed' };
    case 'CANCELLED':
      return { ...status, step: 'cancelled' };
    case 'TERMINATED':
      return {
        ...status,
        step: 'failed',
        error: { type: 'Terminated', message: terminated || TERMINATED_MESSAGE },
      };
    case 'TIMED_OUT':
      return { ...status, step: 'failed', error: { type: 'WorkflowTimedOut', message: TIMED_OUT_MESSAGE } };
    default:
      return { ...status, step: 'failed', error: { type: 'Closed', message: `workflow ${closed}` } };
  }
}

function endedMidSaga(info: WorkflowExecutionInfo, status = statusFromDescription(info)): boolean {
  return info.status.name !== 'RUNNING' && !TERMINAL_STEPS.includes(status.step);
}

/**
 * The reason a run was terminated with, from its close event: visibility does not hold it. Read only
 * for runs terminated mid-saga, which an operator's hand ends, so a page rarely costs a read. A failed
 * read leaves the client's words for a terminate without a reason.
 */
async function terminateReason(client: Client, info: WorkflowExecutionInfo): Promise<string | undefined> {
  try {
    const { history } = await rpc(client, () =>
      client.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: { workflowId: info.workflowId, runId: info.runId },
        historyEventFilterType: CLOSE_EVENT,
      }),
    );
    return history?.events?.[0]?.workflowExecutionTerminatedEventAttributes?.reason ?? undefined;
  } catch {
    return undefined;
  }
}

/** One page of the sagas matching `request`'s filters, newest first. */
export async function listConnections(
  client: Client,
  request: ListRequest,
  tokenKey: Buffer,
  logger?: Logger,
): Promise<ConnectionList> {
  const { namespace, loadedDataConverter } = client.options;
  const query = visibilityQuery(request);
  let response;
  try {
    response = await rpc(client, () =>
      client.workflowService.listWorkflowExecutions({
        namespace,
        query,
        pageSize: request.pageSize,
        nextPageToken: request.pageToken,
      }),
    );
  } catch (err) {
    // The server refuses a token it cannot read; a missing search attribute is the operator's problem.
    if (
      request.pageToken &&
      isGrpcServiceError(err) &&
      err.code === GrpcStatus.INVALID_ARGUMENT &&
      !/search attribute/i.test(err.details ?? err.message)
    ) {
      throw new ApiError(400, 'invalid_input', 'The request is invalid', [
        { path: '?pageToken', message: 'the server refused pageToken' },
      ]);
    }
    throw err;
  }
  const infos = await Promise.all(
    response.executions.map(async (raw) => {
      try {
        return await executionInfoFromRaw(raw, loadedDataConverter, raw, namespace);
      } catch (err) {
        // One saga written under a key this API lacks must not fail the page for every caller:
        // its item is built from the search attributes, which are never encrypted.
        if (!undecodablePayload(err)) throw err;
        logger?.warn(
          { workflowId: raw.execution?.workflowId, err: { message: (err as Error).message } },
          'memo not decodable',
        );
        // Keeps the message's prototype, whose defaults (historyLength, …) a spread would drop.
        const memoless = Object.assign(Object.create(Object.getPrototypeOf(raw) as object), raw, {
          memo: null,
        });
        return executionInfoFromRaw(memoless as typeof raw, loadedDataConverter, raw, namespace);
      }
    }),
  );
  // Filters the query could only narrow (see list-query.ts): such a page may hold fewer items.
  const exact = filtersOf(request).filter(([, value]) => needsExactCheck(value));
  const matching = infos.filter((info) =>
    exact.every(([key, value]) => info.typedSearchAttributes.get(key) === value),
  );
  const reasons = await Promise.all(
    matching.map((info) =>
      info.status.name === 'TERMINATED' && endedMidSaga(info) ? terminateReason(client, info) : undefined,
    ),
  );
  const list: ConnectionList = { connections: matching.map((info, i) => listItem(info, reasons[i])) };
  const token = response.nextPageToken;
  if (token && token.length > 0 && (await anyAfter(client, query, token))) {
    list.nextPageToken = encodePageToken(tokenKey, token, query);
  }
  return list;
}

/**
 * Whether the listing goes on after `token`. Visibility hands out a token with every full page, the
 * last one too, which would send a client to an empty page; one more read of a single item tells.
 * A failed look keeps the token: an empty next page is better than failing a page already read.
 */
async function anyAfter(client: Client, query: string, token: Uint8Array): Promise<boolean> {
  try {
    const next = await rpc(client, () =>
      client.workflowService.listWorkflowExecutions({
        namespace: client.options.namespace,
        query,
        pageSize: 1,
        nextPageToken: token,
      }),
    );
    return next.executions.length > 0;
  } catch {
    return true;
  }
}

/** The route handler. */
export function listHandler(client: Client, tokenKey: Buffer, logger?: Logger): RequestHandler {
  return async (req, res) => {
    res.json(await listConnections(client, parseListRequest(req, tokenKey), tokenKey, logger));
  };
}
