/**
 * Which saga owns a Tray solution instance, as this API process last answered it. A webhook that
 * names only the instance is then routed with one describe instead of a visibility query, which lags
 * the saga's search-attribute upsert by up to seconds under load: the end user's dialog can finish
 * inside that lag. A miss (another replica answered the POST, a restart) or a route the described run
 * no longer confirms falls back to visibility, so the memo only ever saves time.
 */
import { setBounded } from '../lib/bounded-map.js';

/** Enough for every saga a busy replica started in the last hours; about 100 bytes each. */
export const INSTANCE_ROUTES_LIMIT = 10_000;

export class InstanceRoutes {
  readonly #routes = new Map<string, string>();

  constructor(private readonly limit: number = INSTANCE_ROUTES_LIMIT) {}

  /** Notes that `connectionId` owns `solutionInstanceId`; the oldest route goes once over the limit. */
  remember(solutionInstanceId: string | undefined, connectionId: string): void {
    if (!solutionInstanceId) return;
    setBounded(this.#routes, solutionInstanceId, connectionId, this.limit);
  }

  connectionFor(solutionInstanceId: string): string | undefined {
    return this.#routes.get(solutionInstanceId);
  }

  get size(): number {
    return this.#routes.size;
  }
}
