/** The master token's root fields: finding and creating users, and acting for them. */
import { existingUser, requireMaster, type Input, type RequestContext } from './access.js';
import { trayError } from './errors.js';
import type { EmulatorStore } from './store.js';
import { duplicateUserError } from './user-modes.js';
import { connection, userView, type PageArgs } from './views.js';

type UsersArgs = PageArgs & {
  criteria?: { externalUserId?: string | null; name?: string | null; userId?: string | null } | null;
};
type UserInput = Input<{ userId: string; clientMutationId?: string }>;
type CreateUserInput = Input<{ externalUserId: string; name: string; clientMutationId?: string }>;

/** `users`, `createExternalUser`, `removeExternalUser`, `authorize`, `generateAuthorizationCode`. */
export function userResolvers(store: EmulatorStore) {
  return {
    users: (args: UsersArgs, ctx: RequestContext) => {
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

    createExternalUser: ({ input }: CreateUserInput, ctx: RequestContext) => {
      requireMaster(ctx, 'createExternalUser');
      if (!input.externalUserId) throw trayError('bad_request', 'externalUserId must not be empty');
      const mode = store.modes.duplicateUserCreate;
      const user = store.createUser(input.externalUserId, input.name, mode === 'duplicate');
      if (!user) throw duplicateUserError(mode, input.externalUserId);
      return { userId: user.id, clientMutationId: input.clientMutationId ?? null };
    },

    removeExternalUser: ({ input }: UserInput, ctx: RequestContext) => {
      requireMaster(ctx, 'removeExternalUser');
      if (!store.removeUser(input.userId)) throw trayError('not_found', `User ${input.userId} not found`);
      return { clientMutationId: input.clientMutationId ?? null };
    },

    authorize: ({ input }: UserInput, ctx: RequestContext) => {
      requireMaster(ctx, 'authorize');
      const user = existingUser(store, input.userId);
      return { accessToken: store.mintUserToken(user.id), clientMutationId: input.clientMutationId ?? null };
    },

    generateAuthorizationCode: ({ input }: UserInput, ctx: RequestContext) => {
      requireMaster(ctx, 'generateAuthorizationCode');
      const user = existingUser(store, input.userId);
      return { authorizationCode: store.mintCode(user.id), clientMutationId: input.clientMutationId ?? null };
    },
  };
}
