import { GraphQLError } from 'graphql';

/** The error codes the emulator answers with, as Tray's `extensions.code` / `extensions.name`. */
const KINDS = {
  forbidden: 'ForbiddenError',
  not_found: 'NotFoundError',
  conflict: 'ConflictError',
  bad_request: 'ValidationError',
} as const;

export type TrayErrorCode = keyof typeof KINDS;

/** A business error the way Tray reports it in the GraphQL `errors` array. */
export function trayError(code: TrayErrorCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, name: KINDS[code] } });
}
