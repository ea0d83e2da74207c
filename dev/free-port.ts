/** Free TCP ports on 127.0.0.1 for the servers the dev stack, the tests and the bench start. */
import { createServer, type Server } from 'node:net';

/** Ports `freePort` handed out in this process. */
const handedOut = new Set<number>();

/**
 * A TCP port nobody listens on right now, and one this process was not given before: the OS offers
 * a probed port again once its probe closed, so two calls in a row could name one port for two
 * servers (a chaos run once started the API on the emulator's port).
 */
export async function freePort(): Promise<number> {
  // Probes stay open until a new port turns up, so the OS cannot offer the same one twice meanwhile.
  const probes: Server[] = [];
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      const probe = await listenOnSomePort();
      probes.push(probe);
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      if (port > 0 && !handedOut.has(port)) {
        handedOut.add(port);
        return port;
      }
    }
    throw new Error('found no TCP port on 127.0.0.1 that was not handed out before');
  } finally {
    await Promise.all(probes.map((probe) => new Promise((closed) => probe.close(closed))));
  }
}

function listenOnSomePort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
