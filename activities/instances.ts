/**
 * The saga's own instances at Tray. A create whose answer was lost leaves the saga no id, so its
 * instances are found by their owner key (docs/design.md); removing them treats "already gone" as done.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  AsUser,
  InstanceOwnerKey,
  RemoveInstanceInput,
  RemoveInstanceResult,
  RemoveStrayInstancesInput,
} from '../common/activity-types.js';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { FAILURE_TYPES } from '../common/messages.js';
import {
  FIND_INSTANCE,
  FIND_INSTANCE_STATE,
  FIND_INSTANCES,
  FIND_USER_BY_ID,
  REMOVE_INSTANCE,
} from './documents.js';
import { readPages, type PageInfo } from './pages.js';
import type { TrayAuth } from './tray-client.js';
import { failure, isTrayFailure, trayErrorDetails } from './tray-errors.js';
import type { TraySession } from './tray-session.js';
import { checkRemoved } from './update-answers.js';

interface FindInstancesData {
  viewer: {
    solutionInstances: {
      edges: { node: { id: string; name: string; owner: string; created: unknown } }[];
      pageInfo?: PageInfo | null;
    };
  };
}

/** The owner key, and when given, the ISO time after which an instance created is not the saga's. */
export type OwnInstancesQuery = InstanceOwnerKey & { notAfter?: string };

export interface Instances {
  /** Ids of the saga's instances, oldest first. */
  findOwn(auth: TrayAuth, query: OwnInstancesQuery): Promise<string[]>;
  remove(input: RemoveInstanceInput): Promise<RemoveInstanceResult>;
  removeStrays(input: RemoveStrayInstancesInput): Promise<RemoveInstanceResult>;
}

/**
 * Tray's clock is not Temporal's and its timestamps may be whole seconds. Under the 2 s a saga waits
 * between create and enable, so an earlier saga's instance is never taken for this one's.
 */
const CREATED_TOLERANCE_MS = 1000;

// The saga's own instances are few; a Tray that pages them still ends here, never loops.
const MAX_PAGES = 20;

/** Milliseconds of an ISO time the workflow passed; a malformed one is a bug, never worth a retry. */
function isoTime(value: string, name: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw ApplicationFailure.nonRetryable(`${name} is not an ISO time: ${value}`, FAILURE_TYPES.invalidInput);
  return ms;
}

/**
 * Milliseconds of Tray's `created`: ISO text as the schema says (UTC when it names no zone), or
 * epoch seconds or milliseconds as a number or digits. NaN when unreadable: such an instance is
 * never taken for the saga's own.
 */
export function createdMs(value: unknown): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    // Ten-digit values are seconds until the year 2286; milliseconds have thirteen.
    return n < 1e11 ? n * 1000 : n;
  }
  // A date and time without a zone (`2026-11-26T10:00:00`, SQL's `2026-11-26 10:00:00`) is UTC:
  // Date.parse would read it in the worker's own zone, hours away from the saga's window.
  const zoneless = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/.exec(text);
  if (zoneless) return Date.parse(`${zoneless[1]}T${zoneless[2]}Z`);
  return text === '' ? NaN : Date.parse(text);
}

/** Ids of the saga's instances, oldest first, through every page Tray gives. */
async function findOwn(session: TraySession, auth: TrayAuth, query: OwnInstancesQuery): Promise<string[]> {
  const since = isoTime(query.notBefore, 'notBefore') - CREATED_TOLERANCE_MS;
  const until =
    query.notAfter === undefined ? Infinity : isoTime(query.notAfter, 'notAfter') + CREATED_TOLERANCE_MS;
  const variables = { owner: query.userId, solutionId: query.solutionId, name: query.instanceName };
  const own: { id: string; created: number }[] = [];
  await readPages(
    MAX_PAGES,
    (after) =>
      session.send<FindInstancesData>(
        FIND_INSTANCES,
        after === undefined ? variables : { ...variables, after },
        auth,
      ),
    (data) => {
      const { edges, pageInfo } = viewerOf(data, 'FindInstances').solutionInstances;
      for (const { node } of edges) {
        const created = createdMs(node.created);
        if (
          node.owner === query.userId &&
          node.name === query.instanceName &&
          created >= since &&
          created <= until
        )
          own.push({ id: node.id, created });
      }
      return { pageInfo };
    },
  );
  return own.sort((a, b) => a.created - b.created).map((node) => node.id);
}

/**
 * The viewer of an answer to a user token. A Tray that answers `viewer: null` (no errors) has not
 * taken the token: that is a refusal, so the session mints a fresh one rather than retrying it.
 */
export function viewerOf<V>(data: { viewer?: V | null }, operation: string): V {
  if (data.viewer !== undefined && data.viewer !== null) return data.viewer;
  throw failure(TRAY_FAILURE_TYPES.forbidden, `Tray ${operation}: no viewer for the token`, true, {
    operation,
    code: 'no_viewer',
  });
}

/**
 * After Tray refused a removal: is the instance gone anyway? Tray documents no answer for removing
 * one that is, so the instance's absence decides, not the error's code.
 */
async function goneAfter(session: TraySession, error: unknown, auth: TrayAuth, id: string): Promise<boolean> {
  // Even "not found" is checked: a Tray that says so without having looked would leave it running.
  if (!isRefusal(error)) return false;
  const data = await session
    .send<{ viewer: { solutionInstances: { edges: { node: { id: string } }[] } } }>(
      FIND_INSTANCE,
      { id },
      auth,
    )
    .catch((lookupError: unknown) => {
      // Asked for by its id, a Tray that answers "not found" rather than an empty list says it is gone.
      if (isTrayFailure(lookupError, TRAY_FAILURE_TYPES.notFound)) return undefined;
      return lookupFailure(error)(lookupError);
    });
  return !(
    data && viewerOf(data, 'FindInstance').solutionInstances.edges.some((edge) => edge.node.id === id)
  );
}

/**
 * For a look at an instance after Tray refused a request: a look that failed in a way worth
 * retrying (a rate limit, a failing server) is thrown, so the step is retried rather than failed
 * for the refusal; any other failed look leaves the refusal standing.
 */
export function lookupFailure(refusal: unknown): (lookupError: unknown) => never {
  return (lookupError) => {
    const retryable = lookupError instanceof ApplicationFailure && lookupError.nonRetryable !== true;
    throw retryable ? lookupError : refusal;
  };
}

/**
 * True when Tray answered and refused, so the instance's state can tell whether the request's aim
 * was met anyway. A lost connection, a failing server or a rate limit (any 429 too) says nothing;
 * a refusal a server sent as HTTP 500 is still one (tray-errors.ts).
 */
export function isRefusal(error: unknown): boolean {
  const details = trayErrorDetails(error);
  if (details === undefined || isTrayFailure(error, TRAY_FAILURE_TYPES.rateLimited)) return false;
  if (details.httpStatus !== undefined && (error as ApplicationFailure).nonRetryable) return true;
  const status = details.httpStatus;
  return status !== undefined && status < 500 && status !== 408;
}

/** The instance's enabled flag and auths at Tray now; undefined when it is not listed. Throws when the look fails. */
export async function instanceState(
  session: TraySession,
  auth: TrayAuth,
  id: string,
): Promise<{ enabled: boolean; authValues: { externalId: string; authId: string }[] } | undefined> {
  const data = await session.send<{
    viewer: {
      solutionInstances: {
        edges: {
          node: { id: string; enabled: boolean; authValues: { externalId: string; authId: string }[] };
        }[];
      };
    };
  }>(FIND_INSTANCE_STATE, { id }, auth);
  return viewerOf(data, 'FindInstanceState').solutionInstances.edges.find((edge) => edge.node.id === id)
    ?.node;
}

/**
 * Whether `error`, a refused `authorize`, says Tray no longer knows the user: "not found", or a
 * refusal after which a look by id lists no user at all. Only an empty list counts: a Tray that
 * ignored the id would list other users, and a master token it refuses fails the look too.
 */
async function userGone(session: TraySession, userId: string, error: unknown): Promise<boolean> {
  if (trayErrorDetails(error)?.operation !== 'AuthorizeUser') return false;
  if (isTrayFailure(error, TRAY_FAILURE_TYPES.notFound)) return true;
  if (!isTrayFailure(error, TRAY_FAILURE_TYPES.forbidden)) return false;
  const data = await session
    .send<{ users?: { edges?: unknown[] } | null }>(FIND_USER_BY_ID, { userId }, 'master')
    .catch(() => undefined);
  const gone = Array.isArray(data?.users?.edges) && data.users.edges.length === 0;
  if (gone) Context.current().log.info('Tray refused a token for a user it no longer lists', { userId });
  return gone;
}

/** The instance operations over one Tray session. */
export function createInstances(session: TraySession): Instances {
  /** Removes the instances `pick` names, each once; "already gone" and "no such user" count as done. */
  async function removeAll(
    user: AsUser,
    pick: (auth: TrayAuth) => Promise<string[]>,
  ): Promise<RemoveInstanceResult> {
    const removed = new Set<string>();
    try {
      await session.asUser(user, async (auth) => {
        for (const id of new Set(await pick(auth))) {
          if (removed.has(id)) continue;
          try {
            checkRemoved(await session.send(REMOVE_INSTANCE, { solutionInstanceId: id }, auth));
            removed.add(id);
          } catch (error) {
            if (!(await goneAfter(session, error, auth, id))) throw error;
          }
        }
      });
    } catch (error) {
      // A user Tray no longer knows has no instances left to remove.
      if (!(await userGone(session, user.userId, error))) throw error;
    }
    if (removed.size > 0)
      Context.current().log.info('Removed solution instance(s)', { removed: [...removed] });
    return { removed: [...removed] };
  }

  return {
    findOwn: (auth, query) => findOwn(session, auth, query),
    remove: (input) =>
      removeAll(input, async (auth) => {
        if (!input.solutionInstanceId) return findOwn(session, auth, input);
        if (!input.includeStrays) return [input.solutionInstanceId];
        return [input.solutionInstanceId, ...(await findOwn(session, auth, input))];
      }),
    removeStrays: (input) =>
      removeAll(input, async (auth) =>
        (await findOwn(session, auth, input)).filter((id) => id !== input.keep),
      ),
  };
}
