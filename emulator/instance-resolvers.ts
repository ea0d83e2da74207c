/** A user token's mutations on solution instances: create, update (attach, enable), remove. */
import { ownedInstance, requireUser, solutionOf, type Input, type RequestContext } from './access.js';
import { trayError } from './errors.js';
import {
  checkAuthValues,
  checkConfigValues,
  configRecords,
  merge,
  missingSlots,
  type ConfigValueInput,
} from './slot-values.js';
import type { SlotValue } from './records.js';
import type { EmulatorStore } from './store.js';
import { instanceView } from './views.js';

type CreateInput = Input<{
  solutionId: string;
  instanceName: string;
  authValues?: SlotValue[] | null;
  configValues?: ConfigValueInput[] | null;
  clientMutationId?: string;
}>;
type UpdateInput = Input<{
  solutionInstanceId: string;
  instanceName?: string | null;
  enabled?: boolean | null;
  authValues?: SlotValue[] | null;
  configValues?: ConfigValueInput[] | null;
  errorOnEnablingWithMissingValues?: boolean | null;
  clientMutationId?: string;
}>;
type RemoveInput = Input<{ solutionInstanceId: string; clientMutationId?: string }>;

/** `createSolutionInstance`, `updateSolutionInstance`, `removeSolutionInstance`. */
export function instanceResolvers(store: EmulatorStore) {
  const view = instanceView(store);
  return {
    createSolutionInstance: ({ input }: CreateInput, ctx: RequestContext) => {
      const userId = requireUser(ctx, 'createSolutionInstance');
      const solution = solutionOf(store, input.solutionId);
      const authValues = input.authValues ?? [];
      const configValues = input.configValues ?? [];
      checkAuthValues(store, solution, userId, authValues);
      checkConfigValues(solution, configValues);
      const instance = store.createInstance(userId, solution, input.instanceName);
      instance.authValues = merge(instance.authValues, authValues);
      instance.configValues = merge(instance.configValues, configRecords(configValues));
      return { solutionInstance: view(instance), clientMutationId: input.clientMutationId ?? null };
    },

    updateSolutionInstance: ({ input }: UpdateInput, ctx: RequestContext) => {
      const userId = requireUser(ctx, 'updateSolutionInstance');
      const instance = ownedInstance(store, userId, input.solutionInstanceId);
      const solution = solutionOf(store, instance.solutionId);
      const authValues = input.authValues ?? [];
      const configValues = input.configValues ?? [];
      checkAuthValues(store, solution, instance.owner, authValues);
      checkConfigValues(solution, configValues);
      const nextAuth = merge(instance.authValues, authValues);
      const nextConfig = merge(instance.configValues, configRecords(configValues));
      if (input.enabled === true && input.errorOnEnablingWithMissingValues === true) {
        const missing = missingSlots(solution, nextAuth, nextConfig);
        if (missing.length > 0) {
          throw trayError('bad_request', `Cannot enable: slots without a value: ${missing.join(', ')}`);
        }
      }
      instance.authValues = nextAuth;
      instance.configValues = nextConfig;
      if (input.instanceName != null) instance.name = input.instanceName;
      if (input.enabled != null) instance.enabled = input.enabled;
      return { solutionInstance: view(instance), clientMutationId: input.clientMutationId ?? null };
    },

    removeSolutionInstance: ({ input }: RemoveInput, ctx: RequestContext) => {
      const userId = requireUser(ctx, 'removeSolutionInstance');
      const instance = ownedInstance(store, userId, input.solutionInstanceId);
      store.instances.delete(instance.id);
      return { clientMutationId: input.clientMutationId ?? null };
    },
  };
}
