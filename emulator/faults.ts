import { z } from 'zod';

export const FAULT_KINDS = [
  'http500',
  'http429',
  'rateLimitError',
  'permanentError',
  'dropResponseAfterCommit',
  'delay',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Body of `POST /_emulator/faults` and argument of `faults.add`. */
export const faultSpecSchema = z.strictObject({
  operation: z.string().min(1).optional(),
  kind: z.enum(FAULT_KINDS),
  times: z.number().int().min(1).optional(),
  delayMs: z.number().int().min(0).max(120_000).optional(),
  /** `http429` only: the `Retry-After` header it sends (seconds or an HTTP date); default `1`. */
  retryAfter: z.string().min(1).max(64).optional(),
});
export type FaultSpec = z.input<typeof faultSpecSchema>;

interface ArmedFault {
  operation?: string;
  kind: FaultKind;
  remaining: number;
  delayMs: number;
  retryAfter?: string;
}

/** Faults armed for upcoming GraphQL requests; each request consumes at most one (the oldest matching). */
export class FaultInjector {
  #armed: ArmedFault[] = [];

  /** Arms a fault; throws a ZodError for an invalid spec. */
  add(spec: FaultSpec): void {
    const s = faultSpecSchema.parse(spec);
    this.#armed.push({
      operation: s.operation,
      kind: s.kind,
      remaining: s.times ?? 1,
      delayMs: s.delayMs ?? 1000,
      ...(s.retryAfter !== undefined ? { retryAfter: s.retryAfter } : {}),
    });
  }

  clear(): void {
    this.#armed = [];
  }

  /** Faults still armed, for GET /_emulator/state. */
  list(): { operation?: string; kind: FaultKind; remaining: number; delayMs: number }[] {
    return this.#armed.map((f) => ({ ...f }));
  }

  /** Consumes one use of the first fault matching any of the request's root fields. */
  take(operations: readonly string[]): { kind: FaultKind; delayMs: number; retryAfter?: string } | undefined {
    const i = this.#armed.findIndex((f) => f.operation === undefined || operations.includes(f.operation));
    const fault = this.#armed[i];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#armed.splice(i, 1);
    return { kind: fault.kind, delayMs: fault.delayMs, retryAfter: fault.retryAfter };
  }
}
