/**
 * A simulated peer: the real address book, upkeep round, peer exchange list and broadcast tree,
 * over the in-memory network instead of sockets. What it does on a new connection, a closed one,
 * a dial's outcome and each frame follows what the real peer does (dispatch.ts, dialer.ts).
 *
 * @module
 */
import { type Address, formatAddress } from "../../packages/core/address.ts";
import type { AddressBook, KnownAddress } from "../../packages/core/address_book.ts";
import { SLOW_DIAL_MS } from "../../packages/core/dialer.ts";
import {
  exchangeList,
  GOSSIP_INTERVAL_MS,
  learnPeers,
  type LinkedPeer,
} from "../../packages/core/peer_exchange.ts";
import { resolvePeerOptions } from "../../packages/core/peer_options.ts";
import type { PeerAddress } from "../../packages/core/registry.ts";
import { type Neighbour, type UpkeepPeer, upkeepRound } from "../../packages/core/upkeep.ts";
import { BroadcastTree, type TreeMessage } from "../../packages/chat/broadcast_tree.ts";
import { type Numbered, StreamLog, streamOf } from "../../packages/chat/stream_log.ts";
import type { Link } from "./link.ts";
import type { CloseReason, Network } from "./network.ts";

/** A chat line as the simulation sends it. */
export interface SimItem extends Numbered {
  /** Hops it may still go (see {@linkcode HOP_LIMIT}). */
  hops: number;
  /** The simulation's own number for it, to count who showed it (not on any real wire). */
  index: number;
}

/** What a published line may travel, in hops. */
export const HOP_LIMIT = 32;
/** How long a bye takes the dropped peer to leave the dropper alone (as dispatch.ts does). */
const REBALANCE_REST_MS = 60_000;
/** The real peer's defaults: target and maximum connections. */
const { targetConnections, maxConnections } = resolvePeerOptions({});

/** What goes over a simulated connection: the broadcast tree's messages and peer exchange. */
export type Frame = TreeMessage<SimItem> | { t: "peers"; peers: PeerAddress[] };

/** How a simulated peer is made. */
export interface SimPeerOptions {
  /** The network it is on. */
  net: Network;
  /** Its number: its id and its address follow from it. */
  index: number;
  /** Which run of the peer this is (0, then one more after each restart). */
  generation: number;
  /** Its address book (a restarted peer's is restored from what the last run saved). */
  book: AddressBook;
  /** Called when a line new to this peer arrives, to show it. */
  deliver(peer: SimPeer, item: SimItem, late: boolean): void;
}

/**
 * The id of the peer at `index`.
 *
 * @example
 * ```ts
 * import { idOf } from "./sim_peer.ts";
 * console.log(idOf(42)); // "p42"
 * ```
 */
export function idOf(index: number): string {
  return `p${index}`;
}

/**
 * The address the peer at `index` listens at (its own host, as on a network of many hosts).
 *
 * @example
 * ```ts
 * import { addressOf } from "./sim_peer.ts";
 * console.log(addressOf(258)); // { host: "10.0.1.2", port: 7000 }
 * ```
 */
export function addressOf(index: number): Address {
  return { host: `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`, port: 7000 };
}

/**
 * One run of a simulated peer: from its start to its death.
 *
 * @example
 * ```ts
 * import { AddressBook } from "../../packages/core/address_book.ts";
 * import { Network } from "./network.ts";
 * import { SeededRandom } from "./random.ts";
 * import { SimPeer } from "./sim_peer.ts";
 * const net = new Network(new SeededRandom(1));
 * const shown: string[] = [];
 * const deliver = (peer: SimPeer, item: { stream: string }) => shown.push(`${peer.id} ${item.stream}`);
 * const [a, b] = [0, 1].map((index) =>
 *   new SimPeer({ net, index, generation: 0, book: new AddressBook(), deliver })
 * );
 * net.attach(a);
 * net.attach(b);
 * b.connect(a.address);
 * net.runUntil(1000);
 * a.publish(0);
 * net.runUntil(2000);
 * console.log(shown); // ["p1 p0.0"]
 * ```
 */
export class SimPeer implements UpkeepPeer {
  readonly targetConnections = targetConnections;
  readonly maxConnections = maxConnections;
  readonly index: number;
  readonly id: string;
  readonly address: Address;
  readonly generation: number;
  readonly book: AddressBook;
  readonly tree: BroadcastTree<SimItem>;
  /** Its stream: what it says in this run. */
  readonly stream: string;
  /** When this run started. */
  readonly startedAt: number;
  /** Open connections, by the id of the peer at the other end. */
  readonly links = new Map<string, Link>();
  /** Dials in flight, by `host:port`: when each started. */
  readonly dials = new Map<string, number>();
  /** False once killed. */
  alive = true;
  readonly #net: Network;
  readonly #me: LinkedPeer;
  #exploreAt = 0;
  /** A real peer's first retelling is 15 s after it starts (its clock starts with the process). */
  #lastGossipAt: number;
  #said = 0;

  /** A peer that has not started yet (see `Network.attach`). */
  constructor(options: SimPeerOptions) {
    const { net, index, deliver } = options;
    this.#net = net;
    this.index = index;
    this.id = idOf(index);
    this.address = addressOf(index);
    this.#me = { id: this.id, address: this.address };
    this.generation = options.generation;
    this.book = options.book;
    this.startedAt = this.#lastGossipAt = net.now;
    this.stream = streamOf(this.id, net.now);
    this.tree = new BroadcastTree<SimItem>({
      log: new StreamLog(),
      send: (peers, message) => {
        for (const peer of peers) {
          const link = this.links.get(peer);
          if (link) net.send(link, this, message);
        }
      },
      deliver: (item, _from, late) => deliver(this, item, late),
      forward: (item) =>
        item.hops > 1
          ? { stream: item.stream, n: item.n, hops: item.hops - 1, index: item.index }
          : null,
      now: () => net.now,
    });
  }

  /** Says line `index` (the simulation's number for it) in this peer's stream. */
  publish(index: number): void {
    this.tree.publish({ stream: this.stream, n: ++this.#said, hops: HOP_LIMIT, index });
  }

  /** Its user typed `address` to join: kept in the book, and dialed at once (pinned). */
  connect(address: Address): void {
    this.book.add(address, undefined, this.#net.now);
    this.#dial(address, true);
  }

  /** One round of upkeep, the real one. */
  upkeep(): void {
    this.#exploreAt = upkeepRound(this, this.#net.now, this.#exploreAt, this.#net.random.next);
  }

  /** The exchange list for the peer `exclude` (see `exchangeList`). */
  exchangeFor(exclude: string, known: KnownAddress[] = this.book.list()): Frame {
    return { t: "peers", peers: exchangeList(this.#linked(), known, exclude) };
  }

  // What the network tells it.

  /**
   * A connection opened: each end records where the other listens, tells it what it knows, and
   * joins it to the broadcast tree (which sends it a summary).
   */
  opened(link: Link): void {
    const other = link.other(this);
    this.links.set(other.id, link);
    if (link.b === this) this.book.add(other.address, other.id, this.#net.now);
    this.#net.send(link, this, this.exchangeFor(other.id));
    this.tree.join(other.id);
  }

  /** A frame arrived over `link`. */
  receive(link: Link, frame: Frame): void {
    const from = link.other(this);
    if (frame.t === "peers") {
      learnPeers(this.id, frame.peers, this.book, link.namedByOther(this), this.#net.now);
    } else this.tree.receive(from.id, frame);
  }

  /** This end of `link` closed. */
  closed(link: Link, reason: CloseReason): void {
    const other = link.other(this);
    if (this.links.get(other.id) !== link) return;
    this.links.delete(other.id);
    this.tree.leave(other.id);
    if (reason === "rebalance") this.book.rest(other.address, this.#net.now + REBALANCE_REST_MS);
  }

  /** A dial of `address` reached `peer`. */
  dialSucceeded(address: Address, peer: SimPeer): void {
    this.book.succeeded(address, peer.id, this.#net.now);
  }

  /** A dial of `address` failed: refused, or no answer. */
  dialFailed(address: Address): void {
    this.book.failed(address, this.#net.now);
  }

  /** A dial of `address` was refused by a full peer, which named where else to go. */
  refusedFull(address: Address, frame: Frame): void {
    if (frame.t === "peers") learnPeers(this.id, frame.peers, this.book, undefined, this.#net.now);
    this.dialFailed(address);
  }

  /** A dial of `address` reached this peer itself. */
  dialedSelf(address: Address): void {
    this.book.add(address, this.id, this.#net.now).self = true;
  }

  // What upkeep sees of it.

  connections(): number {
    return this.links.size;
  }

  recentDials(now: number): number {
    let recent = 0;
    for (const startedAt of this.dials.values()) if (now - startedAt < SLOW_DIAL_MS) recent++;
    return recent;
  }

  allDials(): number {
    return this.dials.size;
  }

  neighbours(now: number): Neighbour[] {
    return [...this.links.values()].map((link) => ({
      id: link.other(this).id,
      age: now - link.openedAt,
      pinned: link.pinned && link.a === this,
      neighbours: link.namedByOther(this),
    }));
  }

  drop(id: string): void {
    const link = this.links.get(id);
    if (link) this.#net.drop(link, this);
  }

  connectedIds(): ReadonlySet<string> {
    return new Set(this.links.keys());
  }

  busyAddresses(): ReadonlySet<string> {
    const busy = new Set(this.dials.keys());
    for (const link of this.links.values()) busy.add(formatAddress(link.other(this).address));
    return busy;
  }

  candidates(): KnownAddress[] {
    return this.book.dialable(this.#net.now);
  }

  dial(entry: KnownAddress): void {
    this.#dial(entry, false);
  }

  gossip(now: number): void {
    if (now - this.#lastGossipAt <= GOSSIP_INTERVAL_MS || this.links.size === 0) return;
    this.#lastGossipAt = now;
    const known = this.book.list();
    for (const [id, link] of this.links) this.#net.send(link, this, this.exchangeFor(id, known));
  }

  #dial(address: Address, pinned: boolean): void {
    const key = formatAddress(address);
    if (this.dials.has(key)) return;
    this.dials.set(key, this.#net.now);
    // A copy: an address book entry changes as the book learns.
    this.#net.dial(this, { host: address.host, port: address.port }, key, pinned);
  }

  *#linked(): Generator<LinkedPeer> {
    for (const link of this.links.values()) yield link.other(this).#me;
  }
}
