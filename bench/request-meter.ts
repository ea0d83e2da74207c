/**
 * Counts every Tray request the activities send, attributed to the saga (workflow id) whose activity
 * sent it, by wrapping the Tray client. The emulator's own request log counts the same requests from
 * the other side of the wire; the report checks that the two agree.
 */
import { Context } from '@temporalio/activity';
import { Kind, parse } from 'graphql';
import type { TrayClient } from '../activities/index.js';
import type { TrayAuth, Variables } from '../activities/tray-client.js';

export interface MeteredRequest {
  /** ms since epoch, when the request was sent. */
  at: number;
  /** The saga that sent it, or undefined outside an activity. */
  workflowId: string | undefined;
  /** The activity attempt that sent it (`activityType#activityId/attempt`), or undefined outside one. */
  activity: string | undefined;
  /** Root field names, one per (aliased) field, e.g. ['generateAuthorizationCode', 'generateAuthorizationCode']. */
  fields: string[];
  /** The document's operation name, e.g. 'FindUser'. */
  operation: string;
  ok: boolean;
}

interface DocumentShape {
  operation: string;
  fields: string[];
}

const shapes = new Map<string, DocumentShape>();

/** Operation name and root fields of a document, parsed once per distinct document. */
function shapeOf(document: string): DocumentShape {
  let shape = shapes.get(document);
  if (!shape) {
    const definition = parse(document).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
    shape = {
      operation: definition?.name?.value ?? 'anonymous',
      fields: (definition?.selectionSet.selections ?? []).flatMap((s) =>
        s.kind === Kind.FIELD ? [s.name.value] : [],
      ),
    };
    shapes.set(document, shape);
  }
  return shape;
}

function currentActivity(): { workflowId: string | undefined; activity: string | undefined } {
  try {
    const { info } = Context.current();
    return {
      workflowId: info.workflowExecution?.workflowId,
      activity: `${info.activityType}#${info.activityId}/${info.attempt}`,
    };
  } catch {
    return { workflowId: undefined, activity: undefined };
  }
}

export interface RequestMeter {
  client: TrayClient;
  requests: MeteredRequest[];
}

/** Wraps `inner` so every request is recorded (never its variables or token) before it is sent. */
export function meterTrayClient(inner: TrayClient): RequestMeter {
  const requests: MeteredRequest[] = [];
  const client: TrayClient = {
    async request<T>(document: string, variables: Variables | undefined, auth: TrayAuth): Promise<T> {
      const record: MeteredRequest = {
        at: Date.now(),
        ...currentActivity(),
        ...shapeOf(document),
        ok: false,
      };
      requests.push(record);
      const result = await inner.request<T>(document, variables, auth);
      record.ok = true;
      return result;
    },
  };
  return { client, requests };
}
