/**
 * Where a peer listens: a host and a TCP port, and the one way to write and read them as text.
 *
 * @module
 */

/** A network address a peer listens on. An empty `host` means "the address I came from". */
export interface Address {
  /** Host name or IP address. */
  host: string;
  /** TCP port. */
  port: number;
}

/**
 * `host:port`, with an IPv6 host in brackets.
 *
 * @example
 * ```ts
 * import { formatAddress } from "@meshtalk/core";
 * console.log(formatAddress({ host: "::1", port: 9000 })); // "[::1]:9000"
 * ```
 */
export function formatAddress(address: Address): string {
  const { host, port } = address;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Reads `host:port` (an IPv6 host in brackets, `[::1]:9000`); throws a `SyntaxError` naming what
 * was expected, for a missing or bad port too.
 *
 * @example
 * ```ts
 * import { parseAddress } from "@meshtalk/core";
 * console.log(parseAddress("127.0.0.1:9000")); // { host: "127.0.0.1", port: 9000 }
 * ```
 */
export function parseAddress(text: string): Address {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new SyntaxError(`expected host:port with a port from 0 to 65535, got "${text}"`);
  }
  return { host: match[1] ?? match[2], port };
}

/**
 * True when two addresses name the same host and port.
 *
 * @example
 * ```ts
 * import { sameAddress } from "@meshtalk/core";
 * console.log(sameAddress({ host: "a", port: 1 }, { host: "a", port: 1 })); // true
 * ```
 */
export function sameAddress(a: Address, b: Address): boolean {
  return a.host === b.host && a.port === b.port;
}
