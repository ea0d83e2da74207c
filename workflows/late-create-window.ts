/**
 * How long an earlier attempt's create may still land after a retry answered: an attempt lasts at
 * most 30 s, Tray finishes or drops a request within as long again, doubled for margin. A module of
 * its own so one test can bundle the saga with a shorter window and watch it pass in real time
 * (test/late-create.test.ts); nothing else replaces it.
 */
export const LATE_CREATE_WINDOW_MS = 2 * 60_000;
