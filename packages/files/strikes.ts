/**
 * Strikes: a peer that sends pieces failing verification is counted against, and past a limit
 * dropped, so that a liar cannot keep a download busy with garbage.
 *
 * @module
 */
import { BoundedMap } from "@meshtalk/core";

/** Peers with strikes are remembered up to this many; those struck longest ago go first. */
const MAX_REMEMBERED = 10_000;

/**
 * Bad pieces by sender, and the senders dropped for them.
 *
 * @example
 * ```ts
 * import { Strikes } from "./strikes.ts";
 * const strikes = new Strikes(2);
 * console.log(strikes.strike("liar"), strikes.strike("liar"), strikes.isDropped("liar")); // 1 2 true
 * ```
 */
export class Strikes {
  /** Strikes that drop a peer. */
  readonly max: number;
  readonly #counts = new BoundedMap<string, number>(MAX_REMEMBERED);

  /** No strikes yet; `max` of them drop a peer. */
  constructor(max: number) {
    this.max = max;
  }

  /** Counts a bad piece from `peer`; returns its strikes so far. */
  strike(peer: string): number {
    const count = (this.#counts.get(peer) ?? 0) + 1;
    this.#counts.set(peer, count);
    this.#counts.touch(peer);
    return count;
  }

  /** True when `peer` has as many strikes as drop it: nothing it sends is heard. */
  isDropped(peer: string): boolean {
    return (this.#counts.get(peer) ?? 0) >= this.max;
  }
}
