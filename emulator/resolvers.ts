import { trayError } from './errors.js';
import type {
  AuthenticationRecord,
  EmulatorStore,
  InstanceRecord,
  SlotValue,
  SolutionSeed,
  UserRecord,
} from './store.js';

/** Who is calling: resolved from the bearer token before execution (unknown tokens never get here). */
export type RequestContext = { tokenKind: 'master' } | { tokenKind: 'user'; userId: string };

interface PageArgs {
  first?: number | null;
  after?: string | null;
}
interface ConfigValueInput {
  externalId: string;
  value?: unknown;
}
type Input<T> = { input: T };

function requireMaster(ctx: RequestContext, operation: string): void {
  if (ctx.tokenKind !== 'master')
    throw trayError('forbidden', `${operation} requires the partner master token`);
}

function requireUser(ctx: RequestContext, operation: string): string {
  if (ctx.tokenKind !== 'user') throw trayError('forbidden', `${operation} requires a user access token`);
  return ctx.userId;
}

/** A Relay-style connection; cursors are node ids, and only `first`/`after` are honoured. */
function connection<T extends { id: string }, N>(items: T[], toNode: (item: T) => N, page: PageArgs) {
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

function solutionView(s: SolutionSeed) {
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

function userView(u: UserRecord) {
  return { id: u.id, name: u.name, externalUserId: u.externalUserId };
}

function authenticationView(a: AuthenticationRecord) {
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

/** Builds the graphql-js root value (query and mutation root fields) over the store. */
export function createRootValue(store: EmulatorStore) {
  const solutionOf = (solutionId: string): SolutionSeed => {
    const s = store.solutions.get(solutionId);
    if (!s) throw trayError('not_found', `Solution ${solutionId} not found`);
    return s;
  };

  const instanceView = (i: InstanceRecord) => ({
    id: i.id,
    name: i.name,
    enabled: i.enabled,
    owner: i.owner,
    created: i.created.toISOString(),
    solution: () => solutionView(solutionOf(i.solutionId)),
    authValues: i.authValues.map((v) => ({ ...v })),
    configValues: i.configValues.map((v) => ({ ...v })),
    workflows: { edges: [] },
    solutionVersionFlags: {
      hasNewerVersion: false,
      requiresUserInputToUpdateVersion: false,
      requiresSystemInputToUpdateVersion: false,
    },
  });

  const ownedInstance = (userId: string, solutionInstanceId: string): InstanceRecord => {
    const instance = store.instances.get(solutionInstanceId);
    if (!instance) throw trayError('not_found', `Solution instance ${solutionInstanceId} not found`);
    if (instance.owner !== userId)
      throw trayError('forbidden', 'The solution instance belongs to another user');
    return instance;
  };

  const existingUser = (userId: string): UserRecord => {
    const user = store.users.get(userId);
    if (!user) throw trayError('not_found', `User ${userId} not found`);
    return user;
  };

  // Validates everything before anything is written, so a rejected mutation changes nothing.
  const checkAuthValues = (solution: SolutionSeed, owner: string, values: SlotValue[]): void => {
    for (const v of values) {
      if (!solution.authSlots.some((s) => s.externalId === v.externalId)) {
        throw trayError('bad_request', `Solution ${solution.id} has no auth slot '${v.externalId}'`);
      }
      const auth = store.authentications.get(v.authId);
      if (!auth) throw trayError('not_found', `Authentication ${v.authId} not found`);
      if (auth.owner !== owner)
        throw trayError('forbidden', `Authentication ${v.authId} belongs to another user`);
    }
  };

  const checkConfigValues = (solution: SolutionSeed, values: ConfigValueInput[]): void => {
    const slots = solution.configSlots ?? [];
    if (values.length > 0 && slots.length === 0) {
      throw trayError('bad_request', `Solution ${solution.id} has no config slots (auth-only)`);
    }
    for (const v of values) {
      if (!slots.some((s) => s.externalId === v.externalId)) {
        throw trayError('bad_request', `Solution ${solution.id} has no config slot '${v.externalId}'`);
      }
      if (v.value != null && !isJsonText(v.value)) {
        throw trayError('bad_request', `Config value for '${v.externalId}' must be a JSON-encoded string`);
      }
    }
  };

  const configRecords = (values: ConfigValueInput[]) =>
    values.map((v) => ({ externalId: v.externalId, value: v.value ?? null }));

  const merge = <T extends { externalId: string }>(current: T[], updates: T[]): T[] => {
    const byId = new Map(current.map((v) => [v.externalId, v]));
    for (const u of updates) byId.set(u.externalId, { ...u });
    return [...byId.values()];
  };

  const viewer = {
    solutions: (args: PageArgs & { criteria?: { tags?: string[] | null } | null }) => {
      const tags = args.criteria?.tags ?? [];
      // Seeds carry no tags, so any tag filter matches nothing.
      const items = tags.length > 0 ? [] : [...store.solutions.values()];
      return connection(items, solutionView, args);
    },
    solutionInstances: (
      args: PageArgs & {
        criteria?: {
          id?: string | null;
          name?: string | null;
          owner?: string | null;
          solutionId?: string | null;
        } | null;
      },
      ctx: RequestContext,
    ) => {
      const c = args.criteria ?? {};
      const items = [...store.instances.values()].filter(
        (i) =>
          (ctx.tokenKind === 'master' || i.owner === ctx.userId) &&
          (c.id == null || i.id === c.id) &&
          (c.name == null || i.name === c.name) &&
          (c.owner == null || i.owner === c.owner) &&
          (c.solutionId == null || i.solutionId === c.solutionId),
      );
      return connection(items, instanceView, args);
    },
    authentications: (_args: unknown, ctx: RequestContext) => {
      const userId = requireUser(ctx, 'viewer.authentications');
      const items = [...store.authentications.values()].filter((a) => a.owner === userId);
      return connection(items, authenticationView, {});
    },
  };

  return {
    viewer: () => viewer,

    users: (
      args: PageArgs & {
        criteria?: { externalUserId?: string | null; name?: string | null; userId?: string | null } | null;
      },
      ctx: RequestContext,
    ) => {
      requireMaster(ctx, 'users');
      const c = args.criteria ?? {};
      const items = [...store.users.values()].filter(
        (u) =>
          (c.externalUserId == null || u.externalUserId === c.externalUserId) &&
          (c.name == null || u.name === c.name) &&
          (c.userId == null || u.id === c.userId),
      );
      return connection(items, userView, args);
    },

    createExternalUser: (
      { input }: Input<{ externalUserId: string; name: string; clientMutationId?: string }>,
      ctx: RequestContext,
    ) => {
      requireMaster(ctx, 'createExternalUser');
      if (!input.externalUserId) throw trayError('bad_request', 'externalUserId must not be empty');
      const user = store.createUser(input.externalUserId, input.name);
      if (!user)
        throw trayError('conflict', `A user with externalUserId '${input.externalUserId}' already exists`);
      return { userId: user.id, clientMutationId: input.clientMutationId ?? null };
    },

    removeExternalUser: (
      { input }: Input<{ userId: string; clientMutationId?: string }>,
      ctx: RequestContext,
    ) => {
      requireMaster(ctx, 'removeExternalUser');
      if (!store.removeUser(input.userId)) throw trayError('not_found', `User ${input.userId} not found`);
      return { clientMutationId: input.clientMutationId ?? null };
    },

    authorize: ({ input }: Input<{ userId: string; clientMutationId?: string }>, ctx: RequestContext) => {
      requireMaster(ctx, 'authorize');
      const user = existingUser(input.userId);
      return { accessToken: store.mintUserToken(user.id), clientMutationId: input.clientMutationId ?? null };
    },

    generateAuthorizationCode: (
      { input }: Input<{ userId: string; clientMutationId?: string }>,
      ctx: RequestContext,
    ) => {
      requireMaster(ctx, 'generateAuthorizationCode');
      const user = existingUser(input.userId);
      return { authorizationCode: store.mintCode(user.id), clientMutationId: input.clientMutationId ?? null };
    },

    createSolutionInstance: (
      {
        input,
      }: Input<{
        solutionId: string;
        instanceName: string;
        authValues?: SlotValue[] | null;
        configValues?: ConfigValueInput[] | null;
        clientMutationId?: string;
      }>,
      ctx: RequestContext,
    ) => {
      const userId = requireUser(ctx, 'createSolutionInstance');
      const solution = solutionOf(input.solutionId);
      const authValues = input.authValues ?? [];
      const configValues = input.configValues ?? [];
      checkAuthValues(solution, userId, authValues);
      checkConfigValues(solution, configValues);
      const instance = store.createInstance(userId, solution, input.instanceName);
      instance.authValues = merge(instance.authValues, authValues);
      instance.configValues = merge(instance.configValues, configRecords(configValues));
      return { solutionInstance: instanceView(instance), clientMutationId: input.clientMutationId ?? null };
    },

    updateSolutionInstance: (
      {
        input,
      }: Input<{
        solutionInstanceId: string;
        instanceName?: string | null;
        enabled?: boolean | null;
        authValues?: SlotValue[] | null;
        configValues?: ConfigValueInput[] | null;
        errorOnEnablingWithMissingValues?: boolean | null;
        clientMutationId?: string;
      }>,
      ctx: RequestContext,
    ) => {
      const userId = requireUser(ctx, 'updateSolutionInstance');
      const instance = ownedInstance(userId, input.solutionInstanceId);
      const solution = solutionOf(instance.solutionId);
      const authValues = input.authValues ?? [];
      const configValues = input.configValues ?? [];
      checkAuthValues(solution, instance.owner, authValues);
      checkConfigValues(solution, configValues);
      const nextAuth = merge(instance.authValues, authValues);
      const nextConfig = merge(instance.configValues, configRecords(configValues));
      if (input.enabled === true && input.errorOnEnablingWithMissingValues === true) {
        const missing = [
          ...solution.authSlots.filter((s) => !nextAuth.some((v) => v.externalId === s.externalId)),
          ...(solution.configSlots ?? []).filter(
            (s) => nextConfig.find((v) => v.externalId === s.externalId)?.value == null,
          ),
        ].map((s) => s.externalId);
        if (missing.length > 0) {
          throw trayError('bad_request', `Cannot enable: slots without a value: ${missing.join(', ')}`);
        }
      }
      instance.authValues = nextAuth;
      instance.configValues = nextConfig;
      if (input.instanceName != null) instance.name = input.instanceName;
      if (input.enabled != null) instance.enabled = input.enabled;
      return { solutionInstance: instanceView(instance), clientMutationId: input.clientMutationId ?? null };
    },

    removeSolutionInstance: (
      { input }: Input<{ solutionInstanceId: string; clientMutationId?: string }>,
      ctx: RequestContext,
    ) => {
      const userId = requireUser(ctx, 'removeSolutionInstance');
      const instance = ownedInstance(userId, input.solutionInstanceId);
      store.instances.delete(instance.id);
      return { clientMutationId: input.clientMutationId ?? null };
    },
  };
}

function isJsonText(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}
