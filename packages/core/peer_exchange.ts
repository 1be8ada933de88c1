/**
 * Peer exchange: what a peer tells its neighbours about where other peers listen, and what it
 * learns from theirs. It is how a peer that knows one address comes to know the mesh.
 *
 * @module
 */
import { formatAddress } from "./address.ts";
import type { AddressBook } from "./address_book.ts";
import { MAX_PEERS_PER_MESSAGE } from "./messages.ts";
import type { ConnectionRecord, PeerAddress, Registry } from "./registry.ts";

/** How often every neighbour is told the exchange list again, in ms. */
const GOSSIP_INTERVAL_MS = 15_000;

/**
 * The exchange list a peer sends and the addresses it learns.
 *
 * @example
 * ```ts
 * import { AddressBook } from "./address_book.ts";
 * import { PeerExchange } from "./peer_exchange.ts";
 * import { Registry } from "./registry.ts";
 * const me = "4f1c0000000000000000000000000000";
 * const book = new AddressBook();
 * const exchange = new PeerExchange(me, new Registry(me), book);
 * const other = "77".repeat(16);
 * exchange.learn([{ id: other, host: "10.0.0.7", port: 7000 }, { id: me, host: "10.0.0.1", port: 7000 }]);
 * console.log(exchange.list().map((a) => a.host)); // ["10.0.0.7"]: never ourselves
 * ```
 */
export class PeerExchange {
  readonly #myId: string;
  readonly #registry: Registry;
  readonly #book: AddressBook;
  #lastGossipAt = 0;

  /** The exchange of the peer `myId`, telling of its connections and its address book. */
  constructor(myId: string, registry: Registry, book: AddressBook) {
    this.#myId = myId;
    this.#registry = registry;
    this.#book = book;
  }

  /**
   * Addresses worth telling a neighbour (not `exclude`, the id of the one told): where our
   * connected peers listen (marked `linked`), then the most recently seen of the book that never
   * failed since they last answered, hints left out (what anyone on our LAN may have forged is
   * not ours to spread); at most {@linkcode MAX_PEERS_PER_MESSAGE}.
   */
  list(exclude?: string): PeerAddress[] {
    const out: PeerAddress[] = [];
    const seen = new Set<string>();
    for (const record of this.#registry.byId.values()) {
      const address = this.#registry.listenAddress(record);
      if (!address || record.remote!.id === exclude) continue;
      seen.add(formatAddress(address));
      out.push({ id: record.remote!.id, ...address, linked: true });
    }
    for (const entry of this.#book.list()) {
      if (out.length >= MAX_PEERS_PER_MESSAGE) break;
      const key = formatAddress(entry);
      if (entry.self || entry.heard || entry.failures > 0 || seen.has(key)) continue;
      if (exclude !== undefined && entry.id === exclude) continue;
      seen.add(key);
      out.push(
        entry.id
          ? { id: entry.id, host: entry.host, port: entry.port }
          : { host: entry.host, port: entry.port },
      );
    }
    return out.slice(0, MAX_PEERS_PER_MESSAGE);
  }

  /**
   * Adds what a neighbour (`from`) told us to the address book, never ourselves nor a hollow
   * address, and remembers which peers it named as its own neighbours.
   */
  learn(peers: PeerAddress[], from?: ConnectionRecord): void {
    if (from) from.theirNeighbours.clear();
    for (const { id, host, port, linked } of peers) {
      if (from && linked && id) from.theirNeighbours.add(id);
      if (id === this.#myId || port === 0 || host === "") continue;
      this.#book.add({ host, port }, id);
    }
  }

  /** Tells one neighbour the exchange list, if there is anything to tell. */
  send(record: ConnectionRecord): void {
    const peers = this.list(record.remote?.id);
    if (peers.length > 0) record.connection.send({ t: "peers", peers }, 0);
  }

  /** Tells every neighbour again, if 15 s passed since the last time. */
  gossip(now: number): void {
    if (now - this.#lastGossipAt <= GOSSIP_INTERVAL_MS || this.#registry.byId.size === 0) return;
    this.#lastGossipAt = now;
    for (const record of this.#registry.byId.values()) this.send(record);
  }
}
