/**
 * An in-memory network of simulated peers, run by a discrete-event clock. Each peer listens at
 * its own address. Frames between connected peers arrive after the link's latency (fixed per
 * link, 0.5 to 3 ms, in order). A dial reaches a live peer after two round trips (the TCP connect
 * and the handshake; both ends get the connection), is refused by a dead one after one, and times
 * out across a partition after `CONNECT_TIMEOUT_MS`. A peer at its connection limit completes the
 * handshake only to name where else to go. A connection cut by a partition is noticed at both
 * ends after the heartbeat timeout; a killed peer's connections are reset at the other ends at
 * once (one latency later, after what it sent before).
 *
 * @module
 */
import { type Address, formatAddress } from "../../packages/core/address.ts";
import { CONNECT_TIMEOUT_MS } from "../../packages/core/dialer.ts";
import { resolvePeerOptions } from "../../packages/core/peer_options.ts";
import { EventQueue } from "./event_queue.ts";
import { Link } from "./link.ts";
import type { SeededRandom } from "./random.ts";
import type { Frame, SimPeer } from "./sim_peer.ts";

const defaults = resolvePeerOptions({});
/** How long a silent connection lasts before its ends close it (the peers' default). */
export const HEARTBEAT_TIMEOUT_MS = defaults.heartbeatTimeoutMs;
/**
 * How often a peer runs its timer (as peer.ts does): upkeep, and the look for silent
 * connections, which are noticed up to this late.
 */
const UPKEEP_EVERY_MS = Math.max(10, Math.min(1000, defaults.heartbeatIntervalMs / 2));
/** How often the chat ticks its broadcast tree. */
const TICK_EVERY_MS = 100;

/** Why a connection end closed. */
export type CloseReason = "reset" | "timeout" | "rebalance" | "dropped";
const CLOSE_REASONS: CloseReason[] = ["reset", "timeout", "rebalance", "dropped"];

/** Kinds of events: a frame or a close arriving, a dial ending, a peer's timers, an action. */
const [FRAME, CLOSE, DIAL, TICK, UPKEEP, CALL] = [0, 1, 2, 3, 4, 5];
/** How a dial ends, decided when it starts and checked again when it ends. */
const [REFUSED, TIMED_OUT, HANDSHAKE] = [0, 1, 2];

interface Dial {
  from: SimPeer;
  address: Address;
  key: string;
  target: SimPeer | undefined;
  latency: number;
  pinned: boolean;
}

/** What went over the wire, and what came of the dials. */
export interface NetworkCounts {
  /** Frames sent, by kind (`peers` is peer exchange; the rest are the broadcast tree's). */
  frames: Record<Frame["t"], number>;
  /** Frames lost: sent on a connection a partition cut, or to a peer that died. */
  lost: number;
  /** Dials that ended in a new connection. */
  connected: number;
  /** Dials that reached a peer already connected (a dial from each side at once). */
  duplicate: number;
  /** Dials refused: nobody listening, or the peer there full. */
  refused: number;
  /** Dials refused by a peer at its connection limit (also counted in `refused`). */
  full: number;
  /** Dials across a partition, timed out. */
  timedOut: number;
  /** Connections dropped as redundant (rebalancing). */
  rebalanced: number;
  /**
   * New connections between two peers whose connection was dropped as redundant before, neither
   * having restarted since: rebalancing undone.
   */
  redialed: number;
}

/**
 * The network, its clock and the peers on it.
 *
 * @example
 * ```ts
 * import { AddressBook } from "../../packages/core/address_book.ts";
 * import { Network } from "./network.ts";
 * import { SeededRandom } from "./random.ts";
 * import { SimPeer } from "./sim_peer.ts";
 * const net = new Network(new SeededRandom(1));
 * const make = (index: number) =>
 *   new SimPeer({ net, index, generation: 0, book: new AddressBook(), deliver: () => {} });
 * const [a, b] = [make(0), make(1)];
 * net.attach(a);
 * net.attach(b);
 * b.connect(a.address);
 * net.runUntil(1000);
 * console.log(a.links.has(b.id), net.components()); // true 1
 * ```
 */
export class Network {
  /** The time now, in simulated ms. */
  now = 0;
  /** The peers by index: the current run of each (undefined before it first starts). */
  readonly peers: SimPeer[] = [];
  /** Connections both of whose ends hold them. */
  readonly openLinks = new Set<Link>();
  readonly counts: NetworkCounts = {
    frames: { item: 0, ihave: 0, graft: 0, prune: 0, summary: 0, peers: 0 },
    lost: 0,
    connected: 0,
    duplicate: 0,
    refused: 0,
    full: 0,
    timedOut: 0,
    rebalanced: 0,
    redialed: 0,
  };
  /** Most connections any peer held at once, all run long. */
  peakDegree = 0;
  readonly random: SeededRandom;
  readonly #queue = new EventQueue();
  /** Links by index, while they are open at an end or have events on their way. */
  readonly #links: (Link | undefined)[] = [];
  readonly #byAddress = new Map<string, number>();
  /** Which side of the partition each peer is on, while there is one. */
  #side: Uint8Array | null = null;
  #roots = new Int32Array(0);
  /** Pairs of runs of peers whose connection was dropped as redundant (see `pairOf`). */
  readonly #dropped = new Set<string>();

  /** An empty network whose latencies and timer phases come from `random`. */
  constructor(random: SeededRandom) {
    this.random = random;
  }

  /** Starts `peer` (a new peer, or a new run of one at the same index and address). */
  attach(peer: SimPeer): void {
    this.peers[peer.index] = peer;
    this.#byAddress.set(formatAddress(peer.address), peer.index);
    // Peers' timers run at their own phases, as real peers started at different times do.
    const { index, generation } = peer;
    this.#queue.push(
      this.now + this.random.next() * TICK_EVERY_MS,
      TICK,
      index,
      generation,
      0,
      null,
    );
    this.#queue.push(
      this.now + this.random.next() * UPKEEP_EVERY_MS,
      UPKEEP,
      index,
      generation,
      0,
      null,
    );
  }

  /** Kills the peer at `index` (SIGKILL): the other ends of its connections are reset. */
  kill(index: number): void {
    const peer = this.peers[index];
    if (!peer?.alive) return;
    peer.alive = false;
    for (const link of peer.links.values()) {
      this.#closeEnd(link, peer, "dropped");
      this.#post(link, this.now + link.latency, CLOSE, link.other(peer), "reset", null);
    }
  }

  /**
   * Cuts the network in two: `side(index)` says where each peer is. Connections across the cut go
   * silent, and are closed by both ends after the heartbeat timeout; dials across it time out.
   */
  partition(side: (index: number) => 0 | 1): void {
    this.#side = Uint8Array.from(this.peers, (_, index) => side(index));
    for (const link of this.openLinks) {
      if (!this.#cut(link.a.index, link.b.index)) continue;
      for (const end of [link.a, link.b]) {
        const at = this.now + HEARTBEAT_TIMEOUT_MS + this.random.next() * UPKEEP_EVERY_MS;
        this.#post(link, at, CLOSE, end, "timeout", null);
      }
    }
  }

  /**
   * Ends the partition. It must have lasted longer than the heartbeat timeout (and the check
   * after it): what was sent across it while it lasted is lost, which only a connection that
   * closed may lose.
   */
  heal(): void {
    this.#side = null;
  }

  /** Runs `action` at simulated time `time`. */
  at(time: number, action: () => void): void {
    this.#queue.push(time, CALL, 0, 0, 0, action);
  }

  /** Runs every event up to `time`, and sets the clock to it. */
  runUntil(time: number): void {
    const queue = this.#queue;
    while (queue.peekTime() <= time) {
      queue.pop();
      this.now = queue.time;
      switch (queue.kind) {
        case FRAME:
        case CLOSE: {
          const link = this.#links[queue.a]!;
          link.inFlight--;
          const end = link.a.index === queue.b ? link.a : link.b;
          if (queue.kind === FRAME) this.#arrive(link, end, queue.payload as Frame);
          else this.#closeEnd(link, end, CLOSE_REASONS[queue.c]);
          this.#release(link);
          break;
        }
        case DIAL:
          this.#dialEnded(queue.payload as Dial, queue.c);
          break;
        case TICK:
        case UPKEEP: {
          const peer = this.peers[queue.a];
          if (!peer.alive || peer.generation !== queue.b) break; // a run that was killed
          const tick = queue.kind === TICK;
          if (tick) peer.tree.tick();
          else peer.upkeep();
          const every = tick ? TICK_EVERY_MS : UPKEEP_EVERY_MS;
          this.#queue.push(this.now + every, queue.kind, queue.a, queue.b, 0, null);
          break;
        }
        case CALL:
          (queue.payload as () => void)();
          break;
      }
    }
    this.now = time;
  }

  /** Sends `frame` from `from` over `link`. */
  send(link: Link, from: SimPeer, frame: Frame): void {
    this.counts.frames[frame.t]++;
    this.#post(link, this.now + link.latency, FRAME, link.other(from), "reset", frame);
  }

  /**
   * `from` dials the peer listening at `address` (`key` is its `host:port`); `pinned` if its user
   * asked for it. Its outcome is told to `from` when it ends.
   */
  dial(from: SimPeer, address: Address, key: string, pinned: boolean): void {
    const index = this.#byAddress.get(key);
    const target = index === undefined ? undefined : this.peers[index];
    const latency = this.random.between(0.5, 3);
    const dial: Dial = { from, address, key, target, latency, pinned };
    const rtt = 2 * latency;
    if (!target?.alive) this.#queue.push(this.now + rtt, DIAL, 0, 0, REFUSED, dial);
    else if (this.#cut(from.index, target.index)) {
      this.#queue.push(this.now + CONNECT_TIMEOUT_MS, DIAL, 0, 0, TIMED_OUT, dial);
    } else this.#queue.push(this.now + 2 * rtt, DIAL, 0, 0, HANDSHAKE, dial);
  }

  /** `by` closes `link` (it is redundant): the other end hears its bye one latency later. */
  drop(link: Link, by: SimPeer): void {
    this.counts.rebalanced++;
    this.#dropped.add(pairOf(link.a, link.b));
    this.#closeEnd(link, by, "dropped");
    this.#post(link, this.now + link.latency, CLOSE, link.other(by), "rebalance", null);
  }

  /** How many parts the live peers and the connections between them make (1: one mesh). */
  components(): number {
    if (this.#roots.length < this.peers.length) this.#roots = new Int32Array(this.peers.length);
    const roots = this.#roots;
    const find = (x: number): number => {
      while (roots[x] !== x) x = roots[x] = roots[roots[x]];
      return x;
    };
    let parts = 0;
    for (let i = 0; i < this.peers.length; i++) {
      roots[i] = i;
      if (this.peers[i]?.alive) parts++;
    }
    for (const link of this.openLinks) {
      const x = find(link.a.index);
      const y = find(link.b.index);
      if (x !== y) {
        roots[x] = y;
        parts--;
      }
    }
    return parts;
  }

  #cut(x: number, y: number): boolean {
    return this.#side !== null && this.#side[x] !== this.#side[y];
  }

  /** Puts in an event (a frame, or a close with `reason`) for the end of `link` at `to`. */
  #post(link: Link, at: number, kind: number, to: SimPeer, reason: CloseReason, frame: unknown) {
    link.inFlight++;
    this.#links[link.index] = link;
    this.#queue.push(at, kind, link.index, to.index, CLOSE_REASONS.indexOf(reason), frame);
  }

  /** Forgets a link closed at both ends with nothing on its way: its peers' runs may be freed. */
  #release(link: Link): void {
    if (!link.openA && !link.openB && link.inFlight === 0) this.#links[link.index] = undefined;
  }

  #arrive(link: Link, peer: SimPeer, frame: Frame): void {
    const open = peer === link.a ? link.openA : link.openB;
    if (!open || this.#cut(link.a.index, link.b.index)) {
      this.counts.lost++;
      return;
    }
    peer.receive(link, frame);
  }

  #closeEnd(link: Link, peer: SimPeer, reason: CloseReason): void {
    if (peer === link.a ? !link.openA : !link.openB) return;
    if (peer === link.a) link.openA = false;
    else link.openB = false;
    this.openLinks.delete(link);
    if (peer.alive) peer.closed(link, reason);
    this.#release(link);
  }

  #dialEnded(dial: Dial, outcome: number): void {
    const { from, address, key, target } = dial;
    if (!from.alive) return; // the dialer died meanwhile
    from.dials.delete(key);
    const reached = outcome === HANDSHAKE && target?.alive &&
      !this.#cut(from.index, target.index);
    if (!reached || !target) {
      if (outcome === TIMED_OUT) this.counts.timedOut++;
      else this.counts.refused++;
      from.dialFailed(address);
      return;
    }
    if (target === from) {
      from.dialedSelf(address);
      return;
    }
    if (from.links.has(target.id) || target.links.has(from.id)) {
      this.counts.duplicate++;
      from.dialSucceeded(address, target);
      return;
    }
    if (target.links.size >= target.maxConnections) {
      // The handshake completes, then the full peer names where else to go, and closes.
      this.counts.full++;
      this.counts.refused++;
      this.counts.frames.peers++;
      from.refusedFull(address, target.exchangeFor(from.id));
      return;
    }
    this.counts.connected++;
    if (this.#dropped.delete(pairOf(from, target))) this.counts.redialed++;
    const link = new Link(this.#links.length, from, target, dial.latency, this.now, dial.pinned);
    this.#links.push(link);
    this.openLinks.add(link);
    from.dialSucceeded(address, target);
    from.opened(link);
    target.opened(link);
    this.peakDegree = Math.max(this.peakDegree, from.links.size, target.links.size);
  }
}

/** The key of the pair of runs of peers `x` and `y`, either way round. */
function pairOf(x: SimPeer, y: SimPeer): string {
  const [low, high] = x.index < y.index ? [x, y] : [y, x];
  return `${low.index}.${low.generation}-${high.index}.${high.generation}`;
}
