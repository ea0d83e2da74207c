/** Walking an error's `cause`s, which the SDK, gRPC and the worker's core nest several deep. */

/** `error` and its causes, outermost first, at most `limit` of them (a cyclic chain must end). */
export function* causeChain(error: unknown, limit = 5): Generator<unknown> {
  for (let e = error, depth = 0; e && depth < limit; e = (e as { cause?: unknown }).cause, depth++) {
    yield e;
  }
}
