/**
 * Input problems as the API reports them, `{ path, message }`: the checks that run before or
 * beside the zod schemas (nesting depth, a connection id's bytes, a repeated query parameter) and
 * zod's issues turned into problems.
 */
import type { z } from 'zod';
import type { inputProblemSchema } from './response-schemas.js';

/** One validation problem: where (`authSlots.1`, `?wait`) and what. */
export type Problem = z.infer<typeof inputProblemSchema>;

/** A query parameter given more than once (or as `a[b]=`): express hands over an array or object. */
export const givenOnceProblem = (name: string) => `${name} must be given once, as a plain value`;

/** Temporal's default limit on a workflow id (`limit.maxIDLength`), in bytes of UTF-8. */
export const MAX_WORKFLOW_ID_BYTES = 1000;

/**
 * The problem with a connection id Temporal would refuse: two 200-character ids of multi-byte
 * characters make more than 1000 bytes.
 */
export function connectionIdProblem(connectionId: string): Problem | undefined {
  const bytes = Buffer.byteLength(connectionId, 'utf8');
  if (bytes <= MAX_WORKFLOW_ID_BYTES) return undefined;
  return {
    path: 'externalUserId',
    message: `externalUserId and solutionId make a connection id of ${bytes} bytes (UTF-8); Temporal takes at most ${MAX_WORKFLOW_ID_BYTES} bytes`,
  };
}

/** How deeply a request body may nest; far beyond any config value, far below a stack overflow. */
export const MAX_BODY_DEPTH = 64;

/**
 * Why a parsed JSON body cannot be validated: it nests deeper than `maxDepth` (the recursive JSON
 * schema would overflow the stack on it). Walks with an explicit stack, so it cannot overflow itself.
 */
export function nestingProblem(value: unknown, maxDepth = MAX_BODY_DEPTH): Problem | undefined {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > maxDepth) {
      return { path: '(body)', message: `the body is nested more than ${maxDepth} levels deep` };
    }
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return undefined;
}

/** A problem at `path` (`['authSlots', 1]` → `authSlots.1`; none → `(body)`), `prefix` marking where the value came from. */
export function problemAt(path: readonly PropertyKey[], message: string, prefix = ''): Problem {
  const at = [prefix, ...path.map(String)].filter((p) => p !== '').join('.');
  return { path: at === '' ? '(body)' : at, message };
}

/** Turns zod issues into `{ path, message }` problems, `prefix` marking where the value came from. */
export function problemsOf(error: z.ZodError, prefix = ''): Problem[] {
  return error.issues.map((issue) => problemAt(issue.path, issue.message, prefix));
}
