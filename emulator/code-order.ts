/** Bounds on the emulator's one-time codes, kept apart from the store (emulator/store.ts). */

/**
 * Spent codes kept to answer a reused link with "already used"; older ones are forgotten (their link
 * then reads as invalid), so a long dev session's state does not grow with every dialog completed.
 */
export const DEFAULT_SPENT_CODE_LIMIT = 10_000;

/**
 * Unused codes kept, the most recently minted: older ones are forgotten (their link then reads as
 * invalid, as a link Tray had expired would). Every reissue leaves its slot's previous code unused,
 * and nothing else ever drops one, so a long dev session's state grew with every URL handed out.
 */
export const DEFAULT_UNUSED_CODE_LIMIT = 10_000;

/**
 * Forgets the oldest codes of `order` (a Set keeps insertion order) while it holds more than
 * `limit`; `forget` drops a code from the store and from every order.
 */
export function forgetOldest(order: Set<string>, limit: number, forget: (code: string) => void): void {
  for (const code of order) {
    if (order.size <= limit) return;
    forget(code);
  }
}
