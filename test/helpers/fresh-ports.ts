/**
 * A port from freePort() is free when it is handed out, and only then: a test file running in
 * another process can be given the same number by the OS and bind it first, before the child process
 * this test starts on it does. Such a start fails with "address already in use", and is worth
 * nothing more than a second try on fresh ports.
 */
import { freePort } from '../../dev/free-port.js';

/** How often a start is tried, each time on ports of its own. */
export const START_ATTEMPTS = 3;

/** The error of a server that could not bind its port (EADDRINUSE, or a child's message saying so). */
export function addressInUse(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EADDRINUSE' || /already in use|EADDRINUSE/i.test(String(error));
}

/**
 * Calls `start` with a fresh free port for each of `names`, again with new ones while it fails for a
 * port in use, up to START_ATTEMPTS. `start` must leave nothing running when it throws.
 */
export async function withFreshPorts<T, N extends string>(
  names: readonly N[],
  start: (ports: Record<N, number>) => Promise<T>,
  pick: () => Promise<number> = freePort,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const ports = {} as Record<N, number>;
    for (const name of names) ports[name] = await pick();
    try {
      return await start(ports);
    } catch (error) {
      // Without ports of its own to change, a start would only fail again the same way.
      if (attempt >= START_ATTEMPTS || names.length === 0 || !addressInUse(error)) throw error;
    }
  }
}
