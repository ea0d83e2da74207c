/**
 * What a long-running command does when its output loses its reader (`npm start | head`,
 * `npm run bench | head`, a `tee` that Ctrl-C ended first, a terminal that closed).
 */

/**
 * Calls `onClosed` once when stdout or stderr can no longer be written. Node reports that as an
 * error event, which unhandled ends the process at once (orphaning children in process groups of
 * their own) or, caught by an uncaught-exception handler that writes, raises another for ever;
 * handled, later writes fail quietly and the caller stops in order.
 */
export function handleClosedOutput(onClosed: (why: string) => void): void {
  let told = false;
  for (const out of [process.stdout, process.stderr]) {
    out.on('error', (error: NodeJS.ErrnoException) => {
      if (told) return;
      told = true;
      onClosed(error.code ?? error.message);
    });
  }
}
