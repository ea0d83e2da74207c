/** Addresses as people and URLs write them. */

/** `host:port`, an IPv6 host in brackets (`[::1]:3000`), as a URL or a log line needs it. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
