/**
 * Peer exchange: what a peer tells its neighbours about where other peers listen, and what it
 * learns from theirs. It is how a peer that knows one address comes to know the mesh.
 *
 * @module
 */
import { type Address, formatAddress } from "./address.ts";
import type { AddressBook, KnownAddress } from "./address_book.ts";
import { MAX_PEERS_PER_MESSAGE } from "./messages.ts";
import type { ConnectionRecord, PeerAddress, Registry } from "./registry.ts";

/** How often every neighbour is told the exchange list again, in ms. */
export const GOSSIP_INTERVAL_MS = 15_000;

/** A connected peer as the exchange list names it: its id and where it listens. */
export interface LinkedPeer {
  /** Its peer id. */
  id: string;
  /** Where it listens. */
  address: Address;
}

/**
 * Addresses worth telling a neighbour (not `exclude`, the id of the one told): where the
 * `connected` peers listen (marked `linked`), then the most recently seen of `known` (the address
 * book's entries, most recently seen first: `AddressBook.list()`) that never failed since they
 * last answered, hints left out (what anyone on our LAN may have forged is not ours to spread); at
 * most {@linkcode MAX_PEERS_PER_MESSAGE}. Pure, so that a simulated peer picks
 * what to tell exactly as a real one does.
 *
 * @example
 * ```ts
 * import { AddressBook } from "./address_book.ts";
 * import { exchangeList } from "./peer_exchange.ts";
 * const book = new AddressBook();
 * book.add({ host: "10.0.0.9", port: 7000 }, "99".repeat(16));
 * book.failed({ host: "10.0.0.8", port: 7000 });
 * const connected = [{ id: "22".repeat(16), address: { host: "10.0.0.2", port: 7000 } }];
 * console.log(exchangeList(connected, book.list()).map((a) => `${a.host} ${a.linked ?? false}`));
 * // ["10.0.0.2 true", "10.0.0.9 false"]: not the address that failed
 * ```
 */
export function exchangeList(
  connected: Iterable<LinkedPeer>,
  known: Iterable<KnownAddress>,
  exclude?: string,
): PeerAddress[] {
  const out: PeerAddress[] = [];
  const seen = new Set<string>();
  for (const { id, address } of connected) {
    if (id === exclude) continue;
    seen.add(formatAddress(address));
    out.push({ id, host: address.host, port: address.port, linked: true });
  }
  for (const entry of known) {
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
 * Adds what a neighbour told us (`peers`) to `book` at time `now`, never peer `myId` itself nor a
 * hollow address, and puts the ids it named as its own neighbours (`linked`) in
 * `theirNeighbours`, in place of what was there. An address the book knows is only a mention (see
 * `AddressBook.mention`); new ones are added in a random order (from `Math.random`): upkeep dials
 * the first added of addresses seen at the same time first, and in the teller's order (its own
 * neighbours first) every newcomer it told would dial the same few peers.
 *
 * @example
 * ```ts
 * import { AddressBook } from "./address_book.ts";
 * import { learnPeers } from "./peer_exchange.ts";
 * const book = new AddressBook();
 * const theirs = new Set<string>();
 * learnPeers("11".repeat(16), [
 *   { id: "11".repeat(16), host: "10.0.0.1", port: 7000, linked: true },
 *   { id: "22".repeat(16), host: "10.0.0.2", port: 7000, linked: true },
 *   { host: "10.0.0.3", port: 0 },
 * ], book, theirs);
 * console.log(book.list().map((a) => a.host), theirs.size); // ["10.0.0.2"] 2
 * ```
 */
export function learnPeers(
  myId: string,
  peers: readonly PeerAddress[],
  book: AddressBook,
  theirNeighbours?: Set<string>,
  now = Date.now(),
): void {
  theirNeighbours?.clear();
  for (const i of shuffledIndices(peers.length)) {
    const { id, host, port, linked } = peers[i];
    if (theirNeighbours && linked && id) theirNeighbours.add(id);
    if (id === myId || port === 0 || host === "") continue;
    book.mention({ host, port }, id, now);
  }
}

/** 0 .. n-1 in a random order (Fisher-Yates). */
function shuffledIndices(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

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
    return exchangeList(this.#linked(), this.#book.list(), exclude);
  }

  /**
   * Adds what a neighbour (`from`) told us to the address book, never ourselves nor a hollow
   * address, and remembers which peers it named as its own neighbours.
   */
  learn(peers: PeerAddress[], from?: ConnectionRecord): void {
    learnPeers(this.#myId, peers, this.#book, from?.theirNeighbours);
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

  /** The connected peers that said where they listen. */
  *#linked(): Generator<LinkedPeer> {
    for (const record of this.#registry.byId.values()) {
      const address = this.#registry.listenAddress(record);
      if (address) yield { id: record.remote!.id, address };
    }
  }
}
