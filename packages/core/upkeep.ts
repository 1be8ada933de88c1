/**
 * Mesh upkeep: while a peer has fewer connections than its target, it dials addresses from its
 * book, a few at a time, and it retells its neighbours where others listen. The decision of what
 * to dial is a pure function of the peer's state, {@linkcode planDials}; {@linkcode Upkeep} feeds
 * it and carries it out.
 *
 * @module
 */
import { formatAddress } from "./address.ts";
import type { AddressBook, KnownAddress } from "./address_book.ts";
import type { Dialer } from "./dialer.ts";
import type { PeerExchange } from "./peer_exchange.ts";
import type { ResolvedPeerOptions } from "./peer_options.ts";
import type { Registry } from "./registry.ts";

/** Most dials upkeep keeps in flight at once. */
export const MAX_UPKEEP_DIALS = 2;

/** What upkeep decides from. */
export interface UpkeepState {
  /** Connections to keep (the peer's `targetConnections`). */
  targetConnections: number;
  /** Most connections at once (the peer's `maxConnections`). */
  maxConnections: number;
  /** Connections now, handshaking ones included. */
  connections: number;
  /** Dials in flight now. */
  dialsInFlight: number;
  /** Addresses that may be dialed now, best first (see `AddressBook.dialable`). */
  candidates: KnownAddress[];
  /** Ids of the connected peers. */
  connectedIds: ReadonlySet<string>;
  /** `host:port` of where connected peers listen and of the dials in flight. */
  busyAddresses: ReadonlySet<string>;
}

/**
 * The addresses to dial now: the first candidates that are neither connected nor being dialed,
 * as many as bring the connections up to the target (and never past `maxConnections`), with at
 * most {@linkcode MAX_UPKEEP_DIALS} dials in flight.
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
  let inFlight = state.dialsInFlight;
  const plan: KnownAddress[] = [];
  for (const entry of state.candidates) {
    if (connections >= limit || inFlight >= MAX_UPKEEP_DIALS) break;
    if (entry.id && state.connectedIds.has(entry.id)) continue;
    if (state.busyAddresses.has(formatAddress(entry))) continue;
    plan.push(entry);
    connections++;
    inFlight++;
  }
  return plan;
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
 * Carries out {@linkcode planDials} on a peer's state, on every tick of its timer.
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

  /** Upkeep of the peer `host` describes. */
  constructor(host: UpkeepHost) {
    this.#host = host;
  }

  /** One round: retell the neighbours if due, and dial what {@linkcode planDials} picks. */
  run(now: number): void {
    const { options, registry, book, dialer, exchange } = this.#host;
    if (this.#host.closing() || options.targetConnections === 0) return;
    exchange.gossip(now);
    // At the target or the dial limit, as most ticks are: nothing to plan.
    const limit = Math.min(options.targetConnections, options.maxConnections);
    if (registry.records.size >= limit || dialer.inFlight >= MAX_UPKEEP_DIALS) return;
    const busyAddresses = dialer.dialing();
    for (const record of registry.byId.values()) {
      const address = registry.listenAddress(record);
      if (address) busyAddresses.add(formatAddress(address));
    }
    const plan = planDials({
      targetConnections: options.targetConnections,
      maxConnections: options.maxConnections,
      connections: registry.records.size,
      dialsInFlight: dialer.inFlight,
      candidates: book.dialable(),
      connectedIds: new Set(registry.byId.keys()),
      busyAddresses,
    });
    for (const entry of plan) {
      dialer.dial(entry).catch((error) => {
        // Report an address going bad once, not on every retry of the backoff.
        if (entry.failures === 1) {
          options.log(`${(error as Error).message}; will retry with backoff`);
        }
      });
    }
  }
}
