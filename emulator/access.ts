/** Who is calling and what they may reach: the checks every resolver starts with. */
import { trayError } from './errors.js';
import type { InstanceRecord, SolutionSeed, UserRecord } from './records.js';
import type { EmulatorStore } from './store.js';

/** Who is calling: resolved from the bearer token before execution (unknown tokens never get here). */
export type RequestContext = { tokenKind: 'master' } | { tokenKind: 'user'; userId: string };

/** Mutations take one `input` argument. */
export type Input<T> = { input: T };

/** Refuses `operation` as Tray does (forbidden) unless the request carries the master token. */
export function requireMaster(ctx: RequestContext, operation: string): void {
  if (ctx.tokenKind !== 'master')
    throw trayError('forbidden', `${operation} requires the partner master token`);
}

/** The calling user's id; only a user token may act as a user. */
export function requireUser(ctx: RequestContext, operation: string): string {
  if (ctx.tokenKind !== 'user') throw trayError('forbidden', `${operation} requires a user access token`);
  return ctx.userId;
}

/** The seeded solution `solutionId`; Tray's not_found error otherwise. */
export function solutionOf(store: EmulatorStore, solutionId: string): SolutionSeed {
  const s = store.solutions.get(solutionId);
  if (!s) throw trayError('not_found', `Solution ${solutionId} not found`);
  return s;
}

/** The user `userId`; Tray's not_found error otherwise. */
export function existingUser(store: EmulatorStore, userId: string): UserRecord {
  const user = store.users.get(userId);
  if (!user) throw trayError('not_found', `User ${userId} not found`);
  return user;
}

/** The instance, when `userId` owns it: another user's instance is forbidden, not hidden. */
export function ownedInstance(
  store: EmulatorStore,
  userId: string,
  solutionInstanceId: string,
): InstanceRecord {
  const instance = store.instances.get(solutionInstanceId);
  if (!instance) throw trayError('not_found', `Solution instance ${solutionInstanceId} not found`);
  if (instance.owner !== userId)
    throw trayError('forbidden', 'The solution instance belongs to another user');
  return instance;
}
