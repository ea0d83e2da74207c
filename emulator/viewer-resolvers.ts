/** `viewer`: what the caller can see, solutions, solution instances and (as a user) authentications. */
import { requireUser, type RequestContext } from './access.js';
import type { EmulatorStore } from './store.js';
import { authenticationView, connection, instanceView, solutionView, type PageArgs } from './views.js';

type SolutionsArgs = PageArgs & { criteria?: { tags?: string[] | null } | null };
type InstancesArgs = PageArgs & {
  criteria?: {
    id?: string | null;
    name?: string | null;
    owner?: string | null;
    solutionId?: string | null;
  } | null;
};

/** The object `viewer` resolves to. */
export function viewerResolvers(store: EmulatorStore) {
  return {
    solutions: (args: SolutionsArgs) => {
      const tags = args.criteria?.tags ?? [];
      // Seeds carry no tags, so any tag filter matches nothing.
      const items = tags.length > 0 ? [] : [...store.solutions.values()];
      return connection(items, solutionView, args);
    },
    solutionInstances: (args: InstancesArgs, ctx: RequestContext) => {
      const c = args.criteria ?? {};
      const items = [...store.instances.values()].filter(
        (i) =>
          (ctx.tokenKind === 'master' || i.owner === ctx.userId) &&
          (c.id == null || i.id === c.id) &&
          (c.name == null || i.name === c.name) &&
          (c.owner == null || i.owner === c.owner) &&
          (c.solutionId == null || i.solutionId === c.solutionId),
      );
      return connection(items, instanceView(store), args);
    },
    authentications: (_args: unknown, ctx: RequestContext) => {
      const userId = requireUser(ctx, 'viewer.authentications');
      const items = [...store.authentications.values()].filter((a) => a.owner === userId);
      return connection(items, authenticationView, {});
    },
  };
}
