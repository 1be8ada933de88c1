/**
 * The chat's Lamport clock: every line written here is numbered after every line seen, so lines
 * sort in an order consistent with who read what before writing.
 *
 * @module
 */

/**
 * A Lamport clock over lines: a say of `n` lines with clock `c` holds clocks `c` to `c + n - 1`.
 *
 * @example
 * ```ts
 * import { LamportClock } from "./clock.ts";
 * const clock = new LamportClock();
 * console.log(clock.tick()); // 1
 * clock.witness({ clock: 10, lines: ["a", "b"] }); // lines 10 and 11 were seen
 * console.log(clock.now, clock.tick()); // 12 13
 * ```
 */
export class LamportClock {
  #now = 0;

  /** The clock of the last line written or seen (0 before any). */
  get now(): number {
    return this.#now;
  }

  /** Moves the clock on for a line written here; returns that line's clock. */
  tick(): number {
    return ++this.#now;
  }

  /** Moves the clock past every line of a say received. */
  witness(say: { clock: number; lines: readonly unknown[] }): void {
    this.#now = Math.max(this.#now, say.clock + say.lines.length - 1) + 1;
  }
}
