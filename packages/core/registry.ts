/**
 * The connections a peer has: every record, handshaking or open; at most one open connection per
 * peer id, chosen the same way on both sides when two peers hold two connections to each other;
 * and the lookups that turn a record into what users see ({@linkcode PeerInfo}).
 *
 * @module
 */
import { type Address, formatAddress } from "./address.ts";
import type { Connection } from "./connection.ts";
import type { Peers } from "./messages.ts";
import type { RemoteHello } from "./worker_protocol.ts";

/**
 * The remote peer as its handshake proved it: its id (derived from the key it proved it holds),
 * nick, apps and where it listens. (worker_protocol.ts names it `RemoteHello`.)
 */
export type ProvenPeer = RemoteHello;

/** Hex of the ephemeral public keys each side put in its hello on one connection. */
export interface EphemeralKeys {
  /** Ours. */
  mine: string;
  /** The other side's. */
  theirs: string;
}

/** A place a peer listens, with its id when known: an entry of a `peers` message. */
export type PeerAddress = Peers["peers"][number];

/** A connected peer as the registry knows it. */
export interface PeerInfo {
  /** Its peer id. */
  id: string;
  /** The nickname it announced. */
  nick: string;
  /** Where it listens, as seen from here (`host:port`), if it announced a port. */
  address: string | null;
  /** The other end of the socket (`host:port`). */
  remoteAddress: string;
  /** Who dialed. */
  direction: "inbound" | "outbound";
  /** Where the connection is in its life. */
  state: "handshaking" | "open" | "closing";
  /** Last heartbeat round-trip time in milliseconds, once measured. */
  rttMs: number | null;
  /** The apps it runs. */
  apps: string[];
  /** When the connection opened (ms since epoch). */
  connectedAt: number;
}

/** A ping sent and not yet answered. */
export interface PendingPing {
  /** Settles with the round-trip time, or rejects if no pong comes. */
  waiter: PromiseWithResolvers<number>;
  /** `performance.now()` when it was sent. */
  sentAt: number;
}

/** A connection as the peer tracks it. */
export interface ConnectionRecord {
  /** The socket and its worker. */
  connection: Connection;
  /** Who dialed. */
  direction: "inbound" | "outbound";
  /** For outbound connections: the address dialed. */
  dialed?: Address;
  /** The proven remote identity, once the handshake is done. */
  remote?: ProvenPeer;
  /** The hellos' ephemeral keys on this connection, once the handshake is done. */
  ephemeralKeys?: EphemeralKeys;
  /** `performance.now()` when the socket was opened. */
  startedAt: number;
  /** Last round-trip time, in milliseconds. */
  rttMs: number | null;
  /** `performance.now()` of the last ping sent. */
  lastPingAt: number;
  /** Number of the last ping sent. */
  pingSeq: number;
  /** Pings awaiting their pong, in the order sent. */
  pings: Map<number, PendingPing>;
  /** Settles once the handshake is done (with the peer kept) or failed. */
  ready: PromiseWithResolvers<PeerInfo>;
  /** The other side dropped this one as a duplicate: another connection is on its way. */
  replaced?: boolean;
  /** For a replaced connection still ours: when its twin must have come (`performance.now()`). */
  twinDeadline?: number;
  /** `performance.now()` of the last app message received. */
  lastAppAt: number;
  /**
   * The connection ends once its handshake is done: we had no room (inbound), or the peer we
   * dialed said it has none (outbound; it sends where else to go, then `bye`).
   */
  full?: boolean;
  /** The peer's own neighbours, as its last `peers` message named them. */
  theirNeighbours: Set<string>;
  /** The user asked for this connection (`Peer.connect`): upkeep never drops it to rebalance. */
  pinned: boolean;
}

/**
 * A new record for a socket, its connection made by `connect` (which may keep the record to
 * report to).
 *
 * @example
 * ```ts ignore
 * const record = newRecord("outbound", { host: "10.0.0.7", port: 7000 }, (r) =>
 *   new Connection(socket, setup, handlersOf(r), { dialer: true }));
 * ```
 */
export function newRecord(
  direction: "inbound" | "outbound",
  dialed: Address | undefined,
  connect: (record: ConnectionRecord) => Connection,
): ConnectionRecord {
  const now = performance.now();
  const record: ConnectionRecord = {
    // Set below: the connection reports to the record, so the record exists first.
    connection: undefined as unknown as Connection,
    direction,
    dialed,
    startedAt: now,
    rttMs: null,
    lastPingAt: now,
    pingSeq: 0,
    pings: new Map(),
    ready: Promise.withResolvers<PeerInfo>(),
    lastAppAt: now,
    theirNeighbours: new Set(),
    pinned: false,
  };
  record.ready.promise.catch(() => {});
  record.connection = connect(record);
  return record;
}

/**
 * What became of a record whose handshake completed (see {@linkcode Registry.open}). For a
 * duplicate, `dropped` is the connection that gives way to `kept`, left open for the caller to
 * end gracefully, or null when it was a dead socket, closed already.
 */
export type Opened =
  | { kind: "first"; returning: boolean }
  | { kind: "duplicate"; kept: ConnectionRecord; dropped: ConnectionRecord | null };

/** A peer whose connection was dropped as a duplicate by the other side, awaiting its twin. */
interface Departing {
  info: PeerInfo;
  reason: string;
  until: number;
}

/**
 * Every connection of a peer, and the one open connection of each peer id.
 *
 * @example
 * ```ts
 * import { Registry } from "./registry.ts";
 * const registry = new Registry("4f1c0000000000000000000000000000");
 * console.log(registry.peers().length, registry.find("4f1c00")); // 0 undefined
 * ```
 */
export class Registry {
  /** Every connection, handshaking and closing ones too. */
  readonly records: Set<ConnectionRecord> = new Set();
  /** The open connection of each connected peer. */
  readonly byId: Map<string, ConnectionRecord> = new Map();
  readonly #departing = new Map<string, Departing>();
  readonly #myId: string;

  /** An empty registry of the peer `myId`. */
  constructor(myId: string) {
    this.#myId = myId;
  }

  /** Tracks a new connection. */
  add(record: ConnectionRecord): void {
    this.records.add(record);
  }

  /**
   * Makes a record whose handshake completed the connection of its peer. If the peer has one
   * already, both sides keep the same one of the two and the other is dropped: an existing
   * connection that is closing, or silent for `staleAfterMs`, is a dead socket (the peer
   * restarted), closed at once (`duplicate`), and the new one wins; one the other side said it
   * drops gives way to the new one too; otherwise {@linkcode preferredConnection} decides.
   * `returning` says the peer was held as departing: its last connection was dropped as a
   * duplicate, and this is its twin.
   */
  open(record: ConnectionRecord, staleAfterMs: number): Opened {
    const id = record.remote!.id;
    const existing = this.byId.get(id);
    if (existing) {
      // A replaced connection falls silent by design: its remote sends nothing after its bye.
      const dead = existing.connection.closing ||
        (!existing.replaced &&
          performance.now() - existing.connection.lastReceivedAt > staleAfterMs);
      const keep = dead || existing.replaced
        ? record
        : preferredConnection(existing, record, this.#myId);
      const drop = keep === existing ? record : existing;
      this.byId.set(id, keep);
      if (!dead) return { kind: "duplicate", kept: keep, dropped: drop };
      drop.connection.close("duplicate connection", "duplicate");
      return { kind: "duplicate", kept: keep, dropped: null };
    }
    this.byId.set(id, record);
    return { kind: "first", returning: this.#departing.delete(id) };
  }

  /** Stops tracking a closed connection (see {@linkcode release} for its peer). */
  remove(record: ConnectionRecord): void {
    this.records.delete(record);
  }

  /**
   * A closed connection leaves its peer. Returns the peer to report gone, or null: the record was
   * not its peer's open connection, or the other side dropped it as a duplicate and
   * `twinDeadline` is given: the peer is held as departing until then, gone only if no twin
   * arrives (see {@linkcode expireDeparting}).
   */
  release(record: ConnectionRecord, reason: string, twinDeadline: number | null): PeerInfo | null {
    if (!record.remote || this.byId.get(record.remote.id) !== record) return null;
    this.byId.delete(record.remote.id);
    const info = this.info(record);
    if (!record.replaced || twinDeadline === null) return info;
    this.#departing.set(info.id, { info, reason, until: twinDeadline });
    return null;
  }

  /** Departing peers whose twin did not come by `now` (all of them without `now`): gone. */
  expireDeparting(now = Infinity): { peer: PeerInfo; reason: string }[] {
    const gone: { peer: PeerInfo; reason: string }[] = [];
    for (const [id, departing] of this.#departing) {
      if (now < departing.until) continue;
      this.#departing.delete(id);
      gone.push({ peer: departing.info, reason: departing.reason });
    }
    return gone;
  }

  /** The connected peers: one entry per peer, its open connection. */
  peers(): PeerInfo[] {
    return [...this.byId.values()].map((r) => this.info(r));
  }

  /** Every connection, handshaking and closing ones too. */
  connections(): PeerInfo[] {
    return [...this.records].map((r) => this.info(r));
  }

  /** An open connection by peer id (or a prefix of 6+ characters), `host:port` or port. */
  find(target: string): ConnectionRecord | undefined {
    for (const record of this.byId.values()) {
      const address = this.listenAddress(record);
      const id = record.remote!.id;
      if (id === target || (target.length >= 6 && id.startsWith(target))) return record;
      if (address && (formatAddress(address) === target || String(address.port) === target)) {
        return record;
      }
      if (this.remoteKey(record) === target) return record;
    }
    return undefined;
  }

  /** The open connection we dialed at `address`, if any. */
  dialedAt(address: Address): ConnectionRecord | undefined {
    for (const record of this.byId.values()) {
      const d = record.dialed;
      if (d && d.host === address.host && d.port === address.port) return record;
    }
    return undefined;
  }

  /** True when a connected peer listens at `address`. */
  connectedTo(address: Address): boolean {
    for (const record of this.byId.values()) {
      const listen = this.listenAddress(record);
      if (listen && listen.host === address.host && listen.port === address.port) return true;
    }
    return false;
  }

  /** Where the remote listens: the address we dialed, or its announced port at the address it came from. */
  listenAddress(record: ConnectionRecord): Address | null {
    if (record.dialed) return record.dialed;
    const listen = record.remote?.listen;
    if (!listen || listen.port === 0) return null;
    return { host: record.connection.remoteAddr.hostname, port: listen.port };
  }

  /** The other end of the socket, `host:port`. */
  remoteKey(record: ConnectionRecord): string {
    const addr = record.connection.remoteAddr;
    return formatAddress({ host: addr.hostname, port: addr.port });
  }

  /** What users see of a connection. */
  info(record: ConnectionRecord): PeerInfo {
    const address = this.listenAddress(record);
    return {
      id: record.remote?.id ?? "",
      nick: record.remote?.nick ?? "",
      address: address ? formatAddress(address) : null,
      remoteAddress: this.remoteKey(record),
      direction: record.direction,
      state: record.connection.closing ? "closing" : record.remote ? "open" : "handshaking",
      rttMs: record.rttMs,
      apps: record.remote?.apps ?? [],
      connectedAt: Date.now() - (performance.now() - record.startedAt),
    };
  }
}

/**
 * Which of two open connections to the same peer both sides keep, computed the same way on both
 * sides from what both know: the connection dialed by the lower peer id wins; between two dialed
 * by the same peer, the one whose dialer's hello ephemeral key is lower.
 *
 * @example
 * ```ts
 * import { type EphemeralKeys, preferredConnection } from "./registry.ts";
 * type Side = { direction: "inbound" | "outbound"; remote: { id: string }; ephemeralKeys: EphemeralKeys };
 * const keys = { mine: "aa", theirs: "bb" };
 * const dialedByUs: Side = { direction: "outbound", remote: { id: "ff" }, ephemeralKeys: keys };
 * const dialedByThem: Side = { direction: "inbound", remote: { id: "ff" }, ephemeralKeys: keys };
 * // We are "11", they "ff": the connection dialed by the lower id is kept, on both sides.
 * console.log(preferredConnection(dialedByThem, dialedByUs, "11") === dialedByUs); // true
 * ```
 */
export function preferredConnection<
  R extends {
    direction: "inbound" | "outbound";
    remote?: { id: string };
    ephemeralKeys?: EphemeralKeys;
  },
>(existing: R, incoming: R, myId: string): R {
  const dialer = (r: R) => r.direction === "outbound" ? myId : r.remote!.id;
  const dialerKey = (r: R) =>
    r.direction === "outbound" ? r.ephemeralKeys!.mine : r.ephemeralKeys!.theirs;
  const a = dialer(existing);
  const b = dialer(incoming);
  if (a !== b) return a < b ? existing : incoming;
  return dialerKey(existing) <= dialerKey(incoming) ? existing : incoming;
}
