/**
 * A simulated connection.
 *
 * @module
 */
import type { SimPeer } from "./sim_peer.ts";

/**
 * A connection between two peers: its ends, its latency, and what each end knows of the other.
 * The network makes them as dials succeed.
 *
 * @example
 * ```ts
 * import { AddressBook } from "../../packages/core/address_book.ts";
 * import { Network } from "./network.ts";
 * import { SeededRandom } from "./random.ts";
 * import { SimPeer } from "./sim_peer.ts";
 * const net = new Network(new SeededRandom(1));
 * for (const index of [0, 1]) {
 *   net.attach(new SimPeer({ net, index, generation: 0, book: new AddressBook(), deliver() {} }));
 * }
 * net.peers[1].connect(net.peers[0].address);
 * net.runUntil(100);
 * const link = net.peers[0].links.get("p1")!;
 * console.log(link.other(net.peers[0]).id, link.open); // "p1" true
 * ```
 */
export class Link {
  /** Whether each end (`a`, `b`) still holds the connection. */
  openA = true;
  openB = true;
  /** At `a`: the neighbours `b` last named (and at `b`, those `a` named). */
  readonly namedByB = new Set<string>();
  readonly namedByA = new Set<string>();
  /** Frames and closes on their way over it. */
  inFlight = 0;

  /** A connection `a` dialed (`pinned` if its user asked for it) to `b`, opened at `openedAt`. */
  constructor(
    readonly index: number,
    readonly a: SimPeer,
    readonly b: SimPeer,
    readonly latency: number,
    readonly openedAt: number,
    readonly pinned: boolean,
  ) {}

  /** The peer at the other end from `peer`. */
  other(peer: SimPeer): SimPeer {
    return peer === this.a ? this.b : this.a;
  }

  /** What the other end last named as its neighbours, as `peer` knows it. */
  namedByOther(peer: SimPeer): Set<string> {
    return peer === this.a ? this.namedByB : this.namedByA;
  }

  /** True while both ends hold it. */
  get open(): boolean {
    return this.openA && this.openB;
  }
}
