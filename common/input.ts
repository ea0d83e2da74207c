/**
 * The input rules of the spec, for the workflow itself: the API validates with zod (and lists every
 * problem with its path), but a saga can be started straight through Temporal, and bad input must end
 * it as `InvalidInput` before any Tray call rather than half-run it. Workflow-safe.
 */
import { authTimeoutProblem } from './duration.js';
import { LIMITS } from './messages.js';

function idProblem(what: string, value: unknown): string | undefined {
  if (typeof value !== 'string') return `${what} must be a string`;
  if (value.length === 0) return `${what} must not be empty`;
  if (value.length > LIMITS.maxIdLength) return `${what} must be at most ${LIMITS.maxIdLength} characters`;
  return undefined;
}

/** Every way `input` breaks the spec's input rules; empty when it is fine. */
export function connectInputProblems(input: unknown): string[] {
  if (typeof input !== 'object' || input === null) return ['the input must be an object'];
  const i = input as Record<string, unknown>;
  const problems = [
    idProblem('externalUserId', i.externalUserId),
    idProblem('userName', i.userName),
    idProblem('solutionId', i.solutionId),
    i.instanceName === undefined ? undefined : idProblem('instanceName', i.instanceName),
  ];
  if (!Array.isArray(i.authSlots)) {
    problems.push('authSlots must be an array');
  } else {
    if (i.authSlots.length < LIMITS.minSlots || i.authSlots.length > LIMITS.maxSlots) {
      problems.push(`authSlots must list ${LIMITS.minSlots} to ${LIMITS.maxSlots} slots`);
    }
    i.authSlots.forEach((slot, index) => problems.push(idProblem(`authSlots[${index}]`, slot)));
    if (new Set(i.authSlots).size !== i.authSlots.length) problems.push('authSlots must be unique');
  }
  if (i.configValues !== undefined) {
    if (!Array.isArray(i.configValues)) problems.push('configValues must be an array');
    else
      i.configValues.forEach((value: unknown, index) =>
        problems.push(
          idProblem(
            `configValues[${index}].externalId`,
            (value as { externalId?: unknown } | null)?.externalId,
          ),
        ),
      );
  }
  if (i.authTimeout !== undefined) {
    const problem =
      typeof i.authTimeout === 'string' ? authTimeoutProblem(i.authTimeout) : 'must be a string';
    if (problem) problems.push(`authTimeout ${problem}`);
  }
  return problems.filter((p): p is string => p !== undefined);
}
