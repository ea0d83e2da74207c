/**
 * Addresses where nothing answers, held for the rest of the test file. A port freePort() handed
 * out is free only at that moment: another test's server (a dev server, an API) may bind it while
 * the suite runs, and a client meant to find nothing would then talk to that server.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after } from 'node:test';

/** `127.0.0.1:<port>` of a socket that drops every connection at once (gRPC: UNAVAILABLE). */
export async function deadAddress(): Promise<string> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A port that takes every connection and never answers (a hung Temporal or collector), with the
 * connections it holds so far.
 */
export async function silentPort(): Promise<{ port: number; held: Socket[] }> {
  const held: Socket[] = [];
  const server = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  after(() => {
    for (const socket of held) socket.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, held };
}
