/**
 * How the emulator answers a second `createExternalUser` for an externalUserId that exists. Tray
 * documents no answer (docs/tray.md#duplicate-user-create), so tests can pick any plausible one.
 */
import { GraphQLError } from 'graphql';
import { z } from 'zod';
import { trayError } from './errors.js';

export const DUPLICATE_USER_MODES = [
  'conflict',
  'badUserInput',
  'unnamed',
  'forbidden',
  'duplicate',
] as const;
export type DuplicateUserMode = (typeof DUPLICATE_USER_MODES)[number];

/** Body of `PUT /_emulator/modes`. */
export const modesSchema = z.strictObject({ duplicateUserCreate: z.enum(DUPLICATE_USER_MODES) });
export type EmulatorModes = z.infer<typeof modesSchema>;

/** The emulator's own default: a `conflict` error. */
export function defaultModes(): EmulatorModes {
  return { duplicateUserCreate: 'conflict' };
}

/** The error a duplicate create answers with; undefined for `duplicate` (a second user is created). */
export function duplicateUserError(
  mode: DuplicateUserMode,
  externalUserId: string,
): GraphQLError | undefined {
  const message = `A user with externalUserId '${externalUserId}' already exists`;
  switch (mode) {
    case 'conflict':
      return trayError('conflict', message);
    case 'badUserInput':
      return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
    case 'unnamed':
      return new GraphQLError('Something went wrong');
    case 'forbidden':
      return new GraphQLError('Forbidden', { extensions: { code: 'FORBIDDEN' } });
    case 'duplicate':
      return undefined;
  }
}
