/**
 * A connection's life as the peer sees it: a socket adopted (a record and the worker that
 * services it), its handshake done (a peer connected, or a duplicate collapsed, or ourselves
 * refused), each message it delivers dispatched, and its end reported.
 *
 * @module
 */
import type { Address } from "./address.ts";
import type { AddressBook } from "./address_book.ts";
import type { BulkFiles } from "./bulk_files.ts";
import { Connection, type ConnectionSetup } from "./connection.ts";
import { BoundedSet } from "./bounded.ts";
import type { Emitter } from "./emitter.ts";
import { ConnectError, type ProtocolError } from "./errors.ts";
import { Handover } from "./handover.ts";
import type { Heartbeat } from "./heartbeat.ts";
import type { AppMessage, Message } from "./messages.ts";
import type { PeerExchange } from "./peer_exchange.ts";
import type { PeerEvents } from "./peer_events.ts";
import type { ResolvedPeerOptions } from "./peer_options.ts";
import {
  type ConnectionRecord,
  type EphemeralKeys,
  newRecord,
  type ProvenPeer,
  type Registry,
} from "./registry.ts";

/** What a dispatcher needs of its peer. */
export interface DispatchHost {
  /** The peer's own id: a connection that proves it is to ourselves. */
  myId: string;
  /** What each connection is told (read as each opens: a nick changed later is used). */
  setup: ConnectionSetup;
  /** Where to report, and the clocks of duplicate collapse. */
  options: Pick<ResolvedPeerOptions, "log" | "heartbeatIntervalMs" | "handshakeTimeoutMs">;
  /** The connections there are. */
  registry: Registry;
  /** Where listen addresses are written, and peers that part are blocked. */
  book: AddressBook;
  /** Sinks and hash workers, given to each new connection. */
  files: BulkFiles;
  /** What tells a new neighbour where others are, and learns what neighbours tell. */
  exchange: PeerExchange;
  /** What answers pongs and fails a closed connection's pings. */
  heartbeat: Heartbeat;
  /** Where the peer's events go. */
  events: Emitter<PeerEvents>;
  /** Backs off a remote that broke a rate limit (see `Admission.penalize`). */
  penalize(record: ConnectionRecord): void;
  /** A handshake slot came free: a stranger waiting for one may start (see `Admission`). */
  slotFreed(): void;
  /** True once the peer is closing. */
  closing(): boolean;
}

/**
 * Adopts sockets as connections and acts on what each connection reports.
 *
 * @example
 * ```ts ignore
 * const dispatcher = new Dispatcher({ myId, setup, options, registry, book, files, exchange,
 *   heartbeat, events, penalize, closing });
 * const record = dispatcher.adopt(await Deno.connect({ hostname, port }), "outbound", { host, port });
 * const peer = await record.ready.promise;
 * ```
 */
export class Dispatcher {
  readonly #host: DispatchHost;
  /** Addresses found to speak another protocol, reported once each. */
  readonly #notMeshtalk = new BoundedSet<string>(256);
  readonly #handover: Handover;

  /** A dispatcher for the peer `host` describes. */
  constructor(host: DispatchHost) {
    this.#host = host;
    this.#handover = new Handover({
      registry: host.registry,
      graceMs: host.options.handshakeTimeoutMs,
      deliver: (record, message) => this.#deliver(record, message),
    });
  }

  /** Takes a socket on: a new record, its connection's worker started, its handshake begun. */
  adopt(
    conn: Deno.TcpConn,
    direction: "inbound" | "outbound",
    dialed?: Address,
    expectPeer?: string,
    full = false,
  ): ConnectionRecord {
    const { registry, events, files, options } = this.#host;
    const setup = { ...this.#host.setup, sinks: files.sinks() };
    const record = newRecord(direction, dialed, (record) =>
      new Connection(conn, setup, {
        ready: (proven, keys) => this.#onReady(record, proven, keys),
        messages: (messages) => this.#onMessages(record, messages),
        closed: (reason, error) => this.#onClosed(record, reason, error),
        sendFailed: (message) => {
          options.log(message);
          const address = registry.remoteKey(record);
          events.emit("error", { address, error: new Error(message), message });
        },
      }, { dialer: direction === "outbound", expectPeer, full }));
    record.full = full;
    files.link(record.connection);
    registry.add(record);
    return record;
  }

  #onReady(record: ConnectionRecord, proven: ProvenPeer, keys: EphemeralKeys): void {
    const { registry, book, events, exchange, options } = this.#host;
    record.remote = proven;
    record.ephemeralKeys = keys;
    this.#host.slotFreed();
    if (proven.id === this.#host.myId) {
      if (record.dialed) book.add(record.dialed, proven.id).self = true;
      const address = registry.remoteKey(record);
      record.ready.reject(
        new ConnectError("self", `refusing to connect to ourselves at ${address}`),
      );
      record.connection.close("refusing to connect to itself", "self");
      return;
    }
    if (record.full || proven.full) {
      // No room here, or there: the handshake only serves to tell a proven peer where else to go.
      record.full = true;
      if (record.direction === "inbound") {
        exchange.send(record);
        record.connection.close(
          "too many connections: no room for another; try the peers named",
          "full",
        );
      }
      return;
    }
    const opened = registry.open(record, 2 * options.heartbeatIntervalMs);
    if (opened.kind === "duplicate") {
      const { kept, dropped } = opened;
      if (dropped) this.#handover.collapse(kept, dropped, kept === record);
      // The dial that made this connection reached the peer either way.
      record.ready.resolve(registry.info(kept));
      return;
    }
    const address = registry.listenAddress(record);
    if (address) book.add(address, proven.id);
    const info = registry.info(record);
    record.ready.resolve(info);
    exchange.send(record);
    // The twin of a connection the other side dropped as a duplicate: the same peer, still here.
    if (!opened.returning) events.emit("peer:connected", info);
  }

  #onMessages(record: ConnectionRecord, messages: Message[]): void {
    const { registry, book, exchange, heartbeat } = this.#host;
    for (const message of messages) {
      if (message.t === "bye") {
        if (message.code === "user" && record.remote) {
          // The other side's user chose to part: its upkeep and ours both leave it alone.
          book.setBlocked({ id: record.remote.id }, true);
        }
        if (message.code === "duplicate" && record.remote && !record.full) {
          // It reads on until our own bye: the handover says when that is.
          this.#handover.heardBye(record);
          return;
        }
        const listening = registry.listenAddress(record);
        if (listening && message.code === "shutdown") book.left(listening);
        // It has more connections than it keeps and reaches us another way: do not dial it
        // straight back.
        if (listening && message.code === "rebalance") book.rest(listening, Date.now() + 60_000);
        record.connection.close(`peer said bye: ${message.reason}`);
        if (!record.remote || record.full) {
          const address = registry.remoteKey(record);
          record.ready.reject(
            new ConnectError("refused", `${address} refused: ${message.reason}`),
          );
        }
        return;
      }
      // Nothing said before the handshake is taken: it is unauthenticated.
      if (!record.remote) continue;
      if (message.t === "pong") heartbeat.pong(record, message.n);
      else if (message.t === "peers") exchange.learn(message.peers, record);
      else if (message.t === "app") {
        // Also on a duplicate on its way out: each message travels on one connection only.
        record.lastAppAt = performance.now();
        this.#handover.receive(record, message);
      }
    }
  }

  #deliver(record: ConnectionRecord, message: AppMessage): void {
    this.#host.events.emit("message", {
      from: this.#host.registry.info(record),
      app: message.app,
      body: message.body,
      ...(message.stored ? { stored: message.stored } : {}),
    });
  }

  #onClosed(record: ConnectionRecord, reason: string, error: ProtocolError | null): void {
    const { registry, events, heartbeat, options } = this.#host;
    registry.remove(record);
    this.#host.slotFreed();
    const address = registry.remoteKey(record);
    heartbeat.abandon(record, reason);
    if (!record.remote || record.full) {
      const why = error?.code === "wrong-peer" || error?.code === "not-meshtalk"
        ? error.code
        : error || record.full
        ? "refused"
        : "closed";
      const said = error?.code === "not-meshtalk" && record.dialed
        ? notMeshtalkText(address, error)
        : error?.code === "wrong-peer"
        ? `${address}: ${error.message}`
        : `${address}: ${reason}`;
      record.ready.reject(new ConnectError(why, said));
    }
    if (error?.code === "rate-limited") this.#host.penalize(record);
    // A pinned dial that found another peer is reported by whoever dialed (its promise rejects);
    // an address dialed that is no meshtalk peer is reported once, not on every redial.
    const elsewhere = error?.code === "not-meshtalk" && record.dialed !== undefined;
    const reported = error?.code === "wrong-peer" && record.dialed
      ? false
      : elsewhere
      ? !this.#notMeshtalk.has(address) && this.#notMeshtalk.add(address).has(address)
      : error !== null;
    if (error && reported) {
      const text = elsewhere
        ? notMeshtalkText(address, error)
        : `connection ${address} closed: ${error.message}`;
      options.log(text);
      const peer = record.remote ? registry.info(record) : undefined;
      events.emit("error", { address, error, peer, message: text });
    }
    this.#handover.closed(record);
    // A replaced connection waited here for its twin until its deadline (see Handover).
    const twinDeadline = this.#host.closing() || record.twinDeadline === undefined ||
        record.twinDeadline <= performance.now()
      ? null
      : record.twinDeadline;
    const gone = registry.release(record, reason, twinDeadline);
    if (gone) events.emit("peer:disconnected", { peer: gone, reason });
  }
}

/** What a user reads of an address that speaks another protocol. */
function notMeshtalkText(address: string, error: ProtocolError): string {
  return `${address} is not a meshtalk peer (${error.message})`;
}
