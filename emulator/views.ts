/** How the emulator's records look as Tray's GraphQL types, and Relay-style paging over them. */
import { solutionOf } from './access.js';
import type { AuthenticationRecord, InstanceRecord, SolutionSeed, UserRecord } from './records.js';
import type { EmulatorStore } from './store.js';

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** A Relay-style connection; cursors are node ids, and only `first`/`after` are honoured. */
export function connection<T extends { id: string }, N>(items: T[], toNode: (item: T) => N, page: PageArgs) {
  let start = 0;
  if (page.after) start = items.findIndex((i) => i.id === page.after) + 1;
  const end = page.first != null ? start + Math.max(0, page.first) : items.length;
  const slice = items.slice(start, end);
  return {
    edges: slice.map((item) => ({ node: toNode(item), cursor: item.id })),
    pageInfo: {
      startCursor: slice[0]?.id ?? null,
      endCursor: slice.at(-1)?.id ?? null,
      hasNextPage: end < items.length,
      hasPreviousPage: start > 0,
    },
    totalCount: items.length,
  };
}

/** A solution in the shape the GraphQL schema returns it. */
export function solutionView(s: SolutionSeed) {
  return {
    id: s.id,
    title: s.title,
    description: null,
    tags: [],
    customFields: [],
    configSlots: (s.configSlots ?? []).map((c) => ({
      externalId: c.externalId,
      title: c.title,
      defaultValue: c.defaultValue ?? null,
    })),
  };
}

/** A user in the shape the GraphQL schema returns it. */
export function userView(u: UserRecord) {
  return { id: u.id, name: u.name, externalUserId: u.externalUserId };
}

/** An authentication in the shape the GraphQL schema returns it. */
export function authenticationView(a: AuthenticationRecord) {
  return {
    id: a.id,
    name: a.name,
    customFields: null,
    service: {
      id: `service-${a.serviceName}`,
      name: a.serviceName,
      version: '1',
      title: a.serviceTitle,
      icon: '',
    },
    serviceEnvironment: { id: `env-${a.serviceName}`, title: 'Production' },
  };
}

/** An instance as Tray shows it; `store` resolves its solution only when the query asks for it. */
export const instanceView = (store: EmulatorStore) => (i: InstanceRecord) => ({
  id: i.id,
  name: i.name,
  enabled: i.enabled,
  owner: i.owner,
  created: i.created.toISOString(),
  solution: () => solutionView(solutionOf(store, i.solutionId)),
  authValues: i.authValues.map((v) => ({ ...v })),
  configValues: i.configValues.map((v) => ({ ...v })),
  workflows: { edges: [] },
  solutionVersionFlags: {
    hasNewerVersion: false,
    requiresUserInputToUpdateVersion: false,
    requiresSystemInputToUpdateVersion: false,
  },
});
