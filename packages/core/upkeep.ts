/**
 * Mesh upkeep: while a peer has fewer connections than its target, it dials addresses from its
 * book, a few at a time, and it retells its neighbours where others listen. The decision of what
 * to dial is a pure function of the peer's state, {@linkcode planDials}; a round of upkeep,
 * {@linkcode upkeepRound}, feeds it from any peer that answers {@linkcode UpkeepPeer} (the
 * simulation in tests/ runs a thousand over an in-memory network); {@linkcode Upkeep} runs the
 * rounds of a real peer. Addresses heard on the LAN (hints) are dialed with their peer's id
 * pinned, and at a rate of their own: announcements cost nothing to forge.
 *
 * @module
 */
import { formatAddress } from "./address.ts";
import type { AddressBook, KnownAddress } from "./address_book.ts";
import type { Dialer } from "./dialer.ts";
import type { PeerExchange } from "./peer_exchange.ts";
import type { ResolvedPeerOptions } from "./peer_options.ts";
import type { Registry } from "./registry.ts";
import { TokenBucket } from "./worker/token_bucket.ts";

/** Most recent dials upkeep keeps in flight at once (see `SLOW_DIAL_MS`). */
export const MAX_UPKEEP_DIALS = 2;
/** Most dials in flight at all, slow ones included. */
export const MAX_DIALS = 8;
/** About how often a peer at its target tries one more, random, known peer (±50%). */
export const EXPLORE_EVERY_MS = 10_000;
/** Connections past the target a peer keeps before it drops a redundant one. */
export const REBALANCE_SLACK = 2;
/**
 * A connection younger than this is never dropped to rebalance: what its peer says of its own
 * neighbours (retold every 15 s) is fresh by then, and a link that just merged two parts of the
 * mesh is not taken for a redundant one. In simulation, 15 s keeps fewer spare connections than
 * 30 s did (mean 11.6 against 12.4 a peer, at target 8) with fewer made again after a drop than
 * 5 or 10 s (docs/ARCHITECTURE.md).
 */
export const REBALANCE_MIN_AGE_MS = 15_000;
/** Dials a second, on average, of addresses heard on the LAN (hints), whatever is heard. */
export const HINT_DIALS_PER_SECOND = 2;
/** Hints dialed at once at most, when none was for a while. */
export const HINT_DIAL_BURST = 4;

/** What upkeep decides from. */
export interface UpkeepState {
  /** Connections to keep (the peer's `targetConnections`). */
  targetConnections: number;
  /** Most connections at once (the peer's `maxConnections`). */
  maxConnections: number;
  /** Connections now, handshaking ones included. */
  connections: number;
  /** Dials in flight now that are not slow. */
  dialsInFlight: number;
  /** Dials in flight now, slow ones included (default: `dialsInFlight`). */
  allDials?: number;
  /** Addresses that may be dialed now, best first (see `AddressBook.dialable`). */
  candidates: KnownAddress[];
  /** Ids of the connected peers. */
  connectedIds: ReadonlySet<string>;
  /** `host:port` of where connected peers listen and of the dials in flight. */
  busyAddresses: ReadonlySet<string>;
  /**
   * A number in [0, 1) when it is time to explore: then, at the target, one more candidate is
   * dialed, the one at that fraction of the list. Undefined: no exploring this round.
   */
  explore?: number;
  /** Most hints (candidates `heard` on the LAN) to dial this round (default: no limit). */
  hintDials?: number;
}

/**
 * The addresses to dial now: the first candidates that are neither connected nor being dialed,
 * as many as bring the connections up to the target (and never past `maxConnections`), with at
 * most {@linkcode MAX_UPKEEP_DIALS} recent dials and {@linkcode MAX_DIALS} dials in all in
 * flight, and at most `hintDials` hints. At the target, when `explore` says so, one candidate at
 * random: two parts of a mesh that each look whole find each other this way.
 *
 * @example
 * ```ts
 * import { planDials } from "./upkeep.ts";
 * const address = (port: number) => ({
 *   host: "10.0.0.7", port, lastSeenAt: 0, failures: 0, nextDialAt: 0, blocked: false, self: false,
 * });
 * const plan = planDials({
 *   targetConnections: 8,
 *   maxConnections: 64,
 *   connections: 1,
 *   dialsInFlight: 0,
 *   candidates: [address(7000), address(7001), address(7002)],
 *   connectedIds: new Set(),
 *   busyAddresses: new Set(["10.0.0.7:7000"]),
 * });
 * console.log(plan.map((a) => a.port)); // [7001, 7002]
 * ```
 */
export function planDials(state: UpkeepState): KnownAddress[] {
  const limit = Math.min(state.targetConnections, state.maxConnections);
  let connections = state.connections;
  let recent = state.dialsInFlight;
  let all = state.allDials ?? state.dialsInFlight;
  let hints = state.hintDials ?? Infinity;
  const open = state.candidates.filter((entry) =>
    !(entry.id && state.connectedIds.has(entry.id)) &&
    !state.busyAddresses.has(formatAddress(entry)) &&
    !(entry.heard && hints <= 0)
  );
  const plan: KnownAddress[] = [];
  for (const entry of open) {
    if (connections >= limit || recent >= MAX_UPKEEP_DIALS || all >= MAX_DIALS) break;
    if (entry.heard && hints-- <= 0) continue;
    plan.push(entry);
    connections++;
    recent++;
    all++;
  }
  const exploring = state.explore !== undefined && plan.length === 0 && open.length > 0 &&
    state.targetConnections > 0 && connections >= limit &&
    connections < state.maxConnections && recent < MAX_UPKEEP_DIALS && all < MAX_DIALS;
  if (exploring) plan.push(open[Math.floor(state.explore! * open.length)]);
  return plan;
}

/** A neighbour as rebalancing sees it. */
export interface Neighbour {
  /** Its id. */
  id: string;
  /** How long it has been connected, in ms. */
  age: number;
  /** The user asked for it: never dropped. */
  pinned: boolean;
  /** Its own neighbours, as its peer exchange names them. */
  neighbours: ReadonlySet<string>;
}

/**
 * The neighbour to drop when a peer holds more than {@linkcode REBALANCE_SLACK} connections past
 * its target (exploring adds them), or null. Only a redundant one goes: one that is also a
 * neighbour of another of ours, so that it stays two hops away and no part of the mesh is cut
 * off; of those, the one we share the most neighbours with. Never a pinned or young connection.
 *
 * @example
 * ```ts
 * import { pickRedundant } from "./upkeep.ts";
 * const n = (id: string, neighbours: string[]) =>
 *   ({ id, age: 60_000, pinned: false, neighbours: new Set(neighbours) });
 * const all = [n("a", ["b"]), n("b", ["a", "c"]), n("c", ["b"]), n("d", [])];
 * console.log(pickRedundant(all, 1)); // "b": a and c still reach it
 * ```
 */
export function pickRedundant(neighbours: Neighbour[], targetConnections: number): string | null {
  if (neighbours.length <= targetConnections + REBALANCE_SLACK) return null;
  const ids = new Set(neighbours.map((n) => n.id));
  let best: { id: string; shared: number } | null = null;
  for (const neighbour of neighbours) {
    if (neighbour.pinned || neighbour.age < REBALANCE_MIN_AGE_MS) continue;
    let shared = 0;
    for (const id of neighbour.neighbours) if (ids.has(id)) shared++;
    if (shared > 0 && (!best || shared > best.shared)) best = { id: neighbour.id, shared };
  }
  return best?.id ?? null;
}

/**
 * What one round of upkeep reads of a peer and does to it: the real peer's parts (see
 * {@linkcode Upkeep}), or a simulated peer over an in-memory network.
 */
export interface UpkeepPeer {
  /** Connections to keep. */
  readonly targetConnections: number;
  /** Most connections at once. */
  readonly maxConnections: number;
  /** Connections now, handshaking ones included. */
  connections(): number;
  /** Dials in flight that started less than `SLOW_DIAL_MS` before `now`. */
  recentDials(now: number): number;
  /** Dials in flight, slow ones included. */
  allDials(): number;
  /** The connected peers, as rebalancing sees them. */
  neighbours(now: number): Neighbour[];
  /** Drops neighbour `id`: it is redundant (see {@linkcode pickRedundant}). */
  drop(id: string): void;
  /** Ids of the connected peers. */
  connectedIds(): ReadonlySet<string>;
  /** `host:port` of where connected peers listen and of the dials in flight. */
  busyAddresses(): ReadonlySet<string>;
  /** Addresses that may be dialed now, best first (see `AddressBook.dialable`). */
  candidates(): KnownAddress[];
  /** Most hints (addresses heard on the LAN) to dial at `now` (default: no limit). */
  hintDials?(now: number): number;
  /** Starts a dial of `entry` at `now` (a hint pinned to its id); its outcome goes to the book. */
  dial(entry: KnownAddress, now: number): void;
  /** Retells every neighbour the exchange list, if that is due at `now`. */
  gossip(now: number): void;
}

/**
 * One round of upkeep over `peer` at time `now`: retell the neighbours if due, drop a redundant
 * connection if there are too many, and dial what {@linkcode planDials} picks, exploring one
 * random candidate at the target when `now` reaches `exploreAt`. Returns when exploring is due
 * next: about {@linkcode EXPLORE_EVERY_MS} (±50%, from `random`) after it last explored.
 *
 * @example
 * ```ts
 * import { AddressBook } from "./address_book.ts";
 * import { upkeepRound, type UpkeepPeer } from "./upkeep.ts";
 * const book = new AddressBook();
 * book.add({ host: "10.0.0.7", port: 7000 });
 * const dialed: string[] = [];
 * const peer: UpkeepPeer = {
 *   targetConnections: 8,
 *   maxConnections: 64,
 *   connections: () => 0,
 *   recentDials: () => dialed.length,
 *   allDials: () => dialed.length,
 *   neighbours: () => [],
 *   drop: () => {},
 *   connectedIds: () => new Set(),
 *   busyAddresses: () => new Set(),
 *   candidates: () => book.dialable(),
 *   dial: (entry) => dialed.push(`${entry.host}:${entry.port}`),
 *   gossip: () => {},
 * };
 * const exploreAt = upkeepRound(peer, 0, 0, () => 0.5);
 * console.log(dialed, exploreAt); // ["10.0.0.7:7000"] 10000
 * ```
 */
export function upkeepRound(
  peer: UpkeepPeer,
  now: number,
  exploreAt: number,
  random: () => number,
): number {
  if (peer.targetConnections === 0) return exploreAt;
  peer.gossip(now);
  // (Below the slack, as most rounds are, no neighbour list is built: none would be dropped.)
  if (peer.connections() > peer.targetConnections + REBALANCE_SLACK) {
    const redundant = pickRedundant(peer.neighbours(now), peer.targetConnections);
    if (redundant !== null) peer.drop(redundant);
  }
  const limit = Math.min(peer.targetConnections, peer.maxConnections);
  const explore = now >= exploreAt;
  // At the target or the dial limit, as most rounds are: nothing to plan.
  if (
    (peer.connections() >= limit && !explore) || peer.recentDials(now) >= MAX_UPKEEP_DIALS
  ) {
    return exploreAt;
  }
  const next = explore ? now + EXPLORE_EVERY_MS * (0.5 + random()) : exploreAt;
  const plan = planDials({
    targetConnections: peer.targetConnections,
    maxConnections: peer.maxConnections,
    connections: peer.connections(),
    dialsInFlight: peer.recentDials(now),
    allDials: peer.allDials(),
    candidates: peer.candidates(),
    connectedIds: peer.connectedIds(),
    busyAddresses: peer.busyAddresses(),
    explore: explore ? random() : undefined,
    hintDials: peer.hintDials?.(now),
  });
  for (const entry of plan) peer.dial(entry, now);
  return next;
}

/** What upkeep needs of its peer. */
export interface UpkeepHost {
  /** The target, the cap, and where to report an address going bad. */
  options: Pick<ResolvedPeerOptions, "targetConnections" | "maxConnections" | "log">;
  /** The connections there are. */
  registry: Registry;
  /** Where the candidates come from. */
  book: AddressBook;
  /** What dials them. */
  dialer: Dialer;
  /** What retells the neighbours. */
  exchange: PeerExchange;
  /** True once the peer is closing: upkeep stops. */
  closing(): boolean;
}

/**
 * Carries out {@linkcode upkeepRound} on a real peer's parts, on every tick of its timer.
 *
 * @example
 * ```ts
 * import { AddressBook } from "./address_book.ts";
 * import { Dialer } from "./dialer.ts";
 * import { PeerExchange } from "./peer_exchange.ts";
 * import { resolvePeerOptions } from "./peer_options.ts";
 * import { Registry } from "./registry.ts";
 * import { Upkeep } from "./upkeep.ts";
 * const me = "4f1c0000000000000000000000000000";
 * const registry = new Registry(me);
 * const book = new AddressBook();
 * const closing = () => false;
 * const adopt = () => {
 *   throw new Error("no socket in this example");
 * };
 * const dialer = new Dialer({ registry, book, maxConnections: 64, adopt, closing });
 * const exchange = new PeerExchange(me, registry, book);
 * const upkeep = new Upkeep({ options: resolvePeerOptions({}), registry, book, dialer, exchange, closing });
 * upkeep.run(performance.now()); // an empty book: nothing to dial
 * console.log(dialer.inFlight); // 0
 * ```
 */
export class Upkeep {
  readonly #host: UpkeepHost;
  readonly #peer: UpkeepPeer;
  readonly #hints = { bucket: new TokenBucket(HINT_DIALS_PER_SECOND, HINT_DIAL_BURST), dialed: 0 };
  #exploreAt = 0;

  /** Upkeep of the peer `host` describes. */
  constructor(host: UpkeepHost) {
    this.#host = host;
    this.#peer = peerOf(host, this.#hints);
  }

  /** Dials of hints (addresses heard on the LAN) since the peer started. */
  get hintsDialed(): number {
    return this.#hints.dialed;
  }

  /**
   * One round: retell the neighbours if due, drop a redundant connection if there are too many,
   * and dial what {@linkcode planDials} picks (exploring, now and then, at the target).
   */
  run(now: number): void {
    if (this.#host.closing()) return;
    this.#exploreAt = upkeepRound(this.#peer, now, this.#exploreAt, Math.random);
  }
}

/** A real peer's registry, book, dialer and exchange, as {@linkcode upkeepRound} sees them. */
function peerOf(host: UpkeepHost, hints: { bucket: TokenBucket; dialed: number }): UpkeepPeer {
  const { options, registry, book, dialer, exchange } = host;
  return {
    targetConnections: options.targetConnections,
    maxConnections: options.maxConnections,
    connections: () => registry.records.size,
    recentDials: (now) => dialer.recentDials(now),
    allDials: () => dialer.inFlight,
    neighbours: (now) =>
      [...registry.byId.values()].map((record) => ({
        id: record.remote!.id,
        age: now - record.startedAt,
        pinned: record.pinned,
        neighbours: record.theirNeighbours,
      })),
    drop: (id) =>
      registry.byId.get(id)?.connection.close(
        "rebalancing: this peer has more connections than it keeps, and reaches you through another",
        "rebalance",
      ),
    connectedIds: () => new Set(registry.byId.keys()),
    busyAddresses: () => {
      const busy = dialer.dialing();
      for (const record of registry.byId.values()) {
        const address = registry.listenAddress(record);
        if (address) busy.add(formatAddress(address));
      }
      return busy;
    },
    candidates: () => book.dialable(),
    hintDials: (now) => {
      hints.bucket.take(0, now); // refilled for the time since the last round
      return Math.max(0, Math.floor(hints.bucket.tokens));
    },
    dial: (entry, now) => {
      if (entry.heard) {
        hints.bucket.take(1, now);
        hints.dialed++;
      }
      // A hint's peer must prove the id it was heard with: a forged announcement cannot send
      // this peer to another.
      dialer.dial(entry, entry.heard ? entry.id : undefined).catch((error) => {
        // Report an address going bad once, not on every retry of the backoff, and not at all
        // for a peer that said goodbye (it left, it did not fail) or a hint (anyone can forge one).
        if (entry.failures === 1 && !entry.left && !entry.heard) {
          options.log(`${(error as Error).message}; will retry with backoff`);
        }
      });
    },
    gossip: (now) => exchange.gossip(now),
  };
}
