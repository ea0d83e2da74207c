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
import { FAILURE_TYPES } from '../common/messages.js';
import { FIND_INSTANCES, REMOVE_INSTANCE } from './documents.js';
import { trayErrorDetails, type TrayAuth } from './tray-client.js';
import type { TraySession } from './tray-session.js';

interface FindInstancesData {
  viewer: {
    solutionInstances: { edges: { node: { id: string; name: string; owner: string; created: string } }[] };
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

/** Milliseconds of an ISO time the workflow passed; a malformed one is a bug, never worth a retry. */
function isoTime(value: string, name: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw ApplicationFailure.nonRetryable(`${name} is not an ISO time: ${value}`, FAILURE_TYPES.invalidInput);
  return ms;
}

/** The instance operations over one Tray session. */
export function createInstances(session: TraySession): Instances {
  async function findOwn(auth: TrayAuth, query: OwnInstancesQuery): Promise<string[]> {
    const since = isoTime(query.notBefore, 'notBefore') - CREATED_TOLERANCE_MS;
    const until =
      query.notAfter === undefined ? Infinity : isoTime(query.notAfter, 'notAfter') + CREATED_TOLERANCE_MS;
    const data = await session.send<FindInstancesData>(
      FIND_INSTANCES,
      { owner: query.userId, solutionId: query.solutionId, name: query.instanceName },
      auth,
    );
    return data.viewer.solutionInstances.edges
      .map((edge) => edge.node)
      .filter(
        (node) =>
          node.owner === query.userId &&
          node.name === query.instanceName &&
          Date.parse(node.created) >= since &&
          Date.parse(node.created) <= until,
      )
      .sort((a, b) => Date.parse(a.created) - Date.parse(b.created))
      .map((node) => node.id);
  }

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
            await session.send(REMOVE_INSTANCE, { solutionInstanceId: id }, auth);
            removed.add(id);
          } catch (error) {
            if (trayErrorDetails(error)?.code !== 'not_found') throw error;
          }
        }
      });
    } catch (error) {
      // A user Tray no longer knows has no instances left to remove.
      const details = trayErrorDetails(error);
      if (!(details?.code === 'not_found' && details.operation === 'AuthorizeUser')) throw error;
    }
    if (removed.size > 0)
      Context.current().log.info('Removed solution instance(s)', { removed: [...removed] });
    return { removed: [...removed] };
  }

  return {
    findOwn,
    remove: (input) =>
      removeAll(input, async (auth) => {
        if (!input.solutionInstanceId) return findOwn(auth, input);
        if (!input.includeStrays) return [input.solutionInstanceId];
        return [input.solutionInstanceId, ...(await findOwn(auth, input))];
      }),
    removeStrays: (input) =>
      removeAll(input, async (auth) => (await findOwn(auth, input)).filter((id) => id !== input.keep)),
  };
}
