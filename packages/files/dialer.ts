/**
 * Dialing the holders of a file when no neighbour can serve it: a file announced from far away
 * names a holder and where it listens, and the downloader connects to it. Each holder is dialed
 * with backoff, so one that fails or cuts us off is not hammered.
 *
 * @module
 */
import { type Address, Backoff, BoundedMap, parseAddress } from "@meshtalk/core";

/**
 * How a {@linkcode HolderDialer} dials.
 *
 * @example
 * ```ts
 * import type { HolderDialerOptions } from "./dialer.ts";
 * const options: HolderDialerOptions = { connect: () => Promise.resolve(), baseMs: 2000 };
 * ```
 */
export interface HolderDialerOptions {
  /** Connects to a peer; the promise's outcome is not looked at. */
  connect(address: Address): Promise<unknown>;
  /** The wait before the second dial of one holder, doubling after each (default 1,000 ms). */
  baseMs?: number;
  /** The longest wait between dials of one holder (default 60,000 ms). */
  maxMs?: number;
}

/** Holders whose backoff is remembered; the oldest are forgotten past this. */
const MAX_REMEMBERED = 10_000;

/**
 * Dials holders, each no sooner than its backoff allows.
 *
 * @example
 * ```ts
 * import { HolderDialer } from "./dialer.ts";
 * const dialed: string[] = [];
 * const dialer = new HolderDialer({ connect: (a) => Promise.resolve(dialed.push(`${a.host}:${a.port}`)) });
 * const holders = new Map([["ada", "10.0.0.7:7000"], ["bob", null]]);
 * dialer.dial(holders, () => false, 0);
 * dialer.dial(holders, () => false, 10); // too soon for ada again
 * console.log(dialed); // ["10.0.0.7:7000"]
 * ```
 */
export class HolderDialer {
  readonly #connect: (address: Address) => Promise<unknown>;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #holders = new BoundedMap<string, { backoff: Backoff; nextAt: number }>(MAX_REMEMBERED);

  /** A dialer that has dialed no one yet. */
  constructor(options: HolderDialerOptions) {
    this.#connect = options.connect;
    this.#baseMs = options.baseMs ?? 1000;
    this.#maxMs = options.maxMs ?? 60_000;
  }

  /**
   * Dials every holder in `holders` (id to `host:port`) that has an address, is not to be
   * `skip`ped (connected already, or dropped), and is due at `now`.
   */
  dial(
    holders: Iterable<[id: string, address: string | null]>,
    skip: (id: string) => boolean,
    now: number = performance.now(),
  ): void {
    for (const [id, text] of holders) {
      if (!text || skip(id)) continue;
      let address: Address;
      try {
        address = parseAddress(text);
      } catch {
        continue; // an announcer named no address we can dial
      }
      let state = this.#holders.get(id);
      if (!state) {
        const backoff = new Backoff({ baseMs: this.#baseMs, maxMs: this.#maxMs, jitter: 0 });
        this.#holders.set(id, state = { backoff, nextAt: -Infinity });
      }
      if (now < state.nextAt) continue;
      state.nextAt = now + state.backoff.fail();
      this.#connect(address).catch(() => {});
    }
  }
}
