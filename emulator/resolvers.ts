/** The graphql-js root value: Tray's query and mutation root fields over the emulator's store. */
import { instanceResolvers } from './instance-resolvers.js';
import type { EmulatorStore } from './store.js';
import { userResolvers } from './user-resolvers.js';
import { viewerResolvers } from './viewer-resolvers.js';

export type { RequestContext } from './access.js';

/** Builds the root value; resolvers receive `(args, context)` with the caller as context. */
export function createRootValue(store: EmulatorStore) {
  const viewer = viewerResolvers(store);
  return {
    viewer: () => viewer,
    ...userResolvers(store),
    ...instanceResolvers(store),
  };
}
