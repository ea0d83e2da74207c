/**
 * Drain on deploy: a stopping worker stops polling at once but lets the activities in flight finish
 * for SHUTDOWN_GRACE, so a Tray request already sent is answered and recorded rather than abandoned
 * and sent again by a retry elsewhere (for a create, that is a late create; docs/design.md).
 */
import { duration } from '../lib/config.js';

export const DEFAULT_SHUTDOWN_GRACE = '30s';

/**
 * After the grace, activities are cancelled; this much later the worker gives up on them and exits.
 * Deploy manifests give the process at least grace + margin (+ a few seconds) before a SIGKILL.
 */
export const SHUTDOWN_FORCE_MARGIN_MS = 15_000;

/** SHUTDOWN_GRACE: a duration such as `30s` or `2m`, at most 1 h; in milliseconds. */
export function shutdownGrace() {
  return duration({ default: DEFAULT_SHUTDOWN_GRACE, max: '1h', examples: '30s, 2m or 1h' });
}

/** The Worker options that make a shutdown drain for `graceMs`. */
export function drainOptions(graceMs: number): { shutdownGraceTime: number; shutdownForceTime: number } {
  return { shutdownGraceTime: graceMs, shutdownForceTime: graceMs + SHUTDOWN_FORCE_MARGIN_MS };
}
