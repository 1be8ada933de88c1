/**
 * A seeded source of random numbers, so that a simulation run can be repeated exactly.
 *
 * @module
 */

/**
 * Random numbers from a seed (the sfc32 generator: small, fast, and good enough for a
 * simulation; not for keys).
 *
 * @example
 * ```ts
 * import { SeededRandom } from "./random.ts";
 * const a = new SeededRandom(7);
 * const b = new SeededRandom(7);
 * console.log(a.next() === b.next(), a.int(10) < 10); // true true
 * ```
 */
export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** A generator whose numbers depend only on `seed`. */
  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed | 0;
    // The first numbers of sfc32 still show the seed: skip them.
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A number in [0, 1). A bound property: it can be passed on as `Math.random` would be. */
  readonly next = (): number => {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4294967296;
  };

  /** A whole number in [0, `n`). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A number in [`low`, `high`). */
  between(low: number, high: number): number {
    return low + this.next() * (high - low);
  }

  /** `count` different items of `items` (all of them if there are fewer), in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const copy = [...items];
    const n = Math.min(count, copy.length);
    for (let i = 0; i < n; i++) {
      const j = i + this.int(copy.length - i);
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy.slice(0, n);
  }
}
