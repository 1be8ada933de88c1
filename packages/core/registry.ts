/**
 * What a peer knows of others: the connections it has (at most one open per peer id) and an
 * address book of where peers can be dialed, with backoff for addresses that failed.
 *
 * @module
 */
import { formatAddress } from "./address.ts";
import type { Connection } from "./connection.ts";
import type { RemoteHello } from "./worker_protocol.ts";

/** A place a peer was seen listening. */
export interface KnownAddress {
  /** Host name or IP. */
  host: string;
  /** TCP port. */
  port: number;
  /** Peer id last seen there, if known. */
  id?: string;
  /** When this address was last confirmed or announced (ms since epoch). */
  lastSeenAt: number;
  /** Dial failures since the last success. */
  failures: number;
  /** Earliest time upkeep may dial it again (ms since epoch). */
  nextDialAt: number;
  /** The user disconnected it: not redialed until they connect to it again. */
  blocked: boolean;
  /** It turned out to be this peer itself. */
  self: boolean;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 60_000;

/** `host:port`, with IPv6 hosts in brackets. */
export function addressKey(host: string, port: number): string {
  return formatAddress({ host, port });
}

/** The bounded set of addresses a peer may dial. */
export class AddressBook {
  readonly #entries = new Map<string, KnownAddress>();
  readonly #max: number;

  constructor(max = 256) {
    this.#max = max;
  }

  /** Records that a peer (maybe of known id) listens at host:port. */
  add(host: string, port: number, id?: string, now = Date.now()): KnownAddress {
    const key = addressKey(host, port);
    let entry = this.#entries.get(key);
    if (!entry) {
      if (this.#entries.size >= this.#max) this.#evict();
      entry = {
        host,
        port,
        lastSeenAt: now,
        failures: 0,
        nextDialAt: 0,
        blocked: false,
        self: false,
      };
      this.#entries.set(key, entry);
    }
    entry.lastSeenAt = now;
    if (id) entry.id = id;
    return entry;
  }

  /** The entry for host:port, if known. */
  get(host: string, port: number): KnownAddress | undefined {
    return this.#entries.get(addressKey(host, port));
  }

  /** Every entry, most recently seen first. */
  list(): KnownAddress[] {
    return [...this.#entries.values()].sort((a, b) => b.lastSeenAt - a.lastSeenAt);
  }

  /** A dial succeeded: clear the backoff. */
  succeeded(host: string, port: number, id: string): void {
    const entry = this.add(host, port, id);
    entry.failures = 0;
    entry.nextDialAt = 0;
  }

  /** A dial failed: back off exponentially, with jitter so peers do not retry in lockstep. */
  failed(host: string, port: number, now = Date.now()): void {
    const entry = this.add(host, port, undefined, this.get(host, port)?.lastSeenAt ?? now);
    entry.failures++;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (entry.failures - 1));
    entry.nextDialAt = now + delay * (0.75 + Math.random() * 0.5);
  }

  /** Addresses upkeep may dial now, fewest failures first. */
  dialable(now = Date.now()): KnownAddress[] {
    return [...this.#entries.values()]
      .filter((e) => !e.blocked && !e.self && e.nextDialAt <= now)
      .sort((a, b) => a.failures - b.failures || b.lastSeenAt - a.lastSeenAt);
  }

  /** Marks the addresses of peer `id` (or host:port) as blocked or not. */
  setBlocked(match: { id?: string; host?: string; port?: number }, blocked: boolean): void {
    for (const entry of this.#entries.values()) {
      const byId = match.id !== undefined && entry.id === match.id;
      const byAddress = match.port !== undefined && entry.port === match.port &&
        (match.host === undefined || entry.host === match.host);
      if (byId || byAddress) {
        entry.blocked = blocked;
        if (!blocked) entry.nextDialAt = 0;
      }
    }
  }

  #evict(): void {
    let oldest: [string, KnownAddress] | undefined;
    for (const item of this.#entries) {
      if (!oldest || item[1].lastSeenAt < oldest[1].lastSeenAt) oldest = item;
    }
    if (oldest) this.#entries.delete(oldest[0]);
  }
}

/** A connection as the peer tracks it. */
export interface ConnectionRecord {
  connection: Connection;
  direction: "inbound" | "outbound";
  /** For outbound connections: the address dialed. */
  dialed?: { host: string; port: number };
  /** The proven remote identity, once the handshake is done. */
  remote?: RemoteHello;
  /** `performance.now()` when the socket was opened. */
  startedAt: number;
  /** Last round-trip time, in milliseconds. */
  rttMs: number | null;
  lastPingAt: number;
  pingSeq: number;
  /** Hex of the ephemeral public keys each side put in its hello on this connection. */
  nonces?: { mine: string; theirs: string };
}

/**
 * Which of two open connections to the same peer both sides keep, computed the same way on both
 * sides from what both know: the connection dialed by the lower peer id wins; between two dialed
 * by the same peer, the one whose dialer's hello ephemeral key is lower.
 */
export function preferredConnection<R extends ConnectionRecord>(
  existing: R,
  incoming: R,
  myId: string,
): R {
  const dialer = (r: ConnectionRecord) => r.direction === "outbound" ? myId : r.remote!.id;
  const dialerNonce = (r: ConnectionRecord) =>
    r.direction === "outbound" ? r.nonces!.mine : r.nonces!.theirs;
  const a = dialer(existing);
  const b = dialer(incoming);
  if (a !== b) return a < b ? existing : incoming;
  return dialerNonce(existing) <= dialerNonce(incoming) ? existing : incoming;
}
