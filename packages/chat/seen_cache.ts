/**
 * The ids of says seen recently, so that each is shown and relayed once however many copies the
 * mesh's cycles bring.
 *
 * @module
 */

/**
 * Message ids seen recently: bounded in count and in age.
 *
 * @example
 * ```ts
 * import { SeenCache } from "./seen_cache.ts";
 * const seen = new SeenCache(60_000, 100_000);
 * console.log(seen.add("a1"), seen.add("a1"), seen.has("a1")); // true false true
 * ```
 */
export class SeenCache {
  readonly #ttl: number;
  readonly #max: number;
  /**
   * Id to when it was seen, in ms since the cache was made: a small integer, which V8 keeps in
   * the map itself, where `Date.now()` needs a heap number of its own per id (101 -> 85 bytes an
   * id, measured: ~8 MiB at the default 100,000 ids).
   */
  readonly #entries = new Map<string, number>();
  readonly #epoch = Date.now();

  /** Remembers ids for `ttlMs`, at most `max` of them. */
  constructor(ttlMs: number, max: number) {
    this.#ttl = ttlMs;
    this.#max = max;
  }

  /** True if `id` was seen within the time remembered. */
  has(id: string, now: number = Date.now()): boolean {
    const at = this.#entries.get(id);
    return at !== undefined && now - this.#epoch - at < this.#ttl;
  }

  /** Records `id`; returns false if it was already there (a duplicate). */
  add(id: string, now: number = Date.now()): boolean {
    const time = now - this.#epoch;
    const at = this.#entries.get(id);
    if (at !== undefined && time - at < this.#ttl) return false;
    this.#entries.delete(id);
    this.#entries.set(id, time);
    // Map keeps insertion order: the oldest entries come first.
    for (const [old, seenAt] of this.#entries) {
      if (this.#entries.size <= this.#max && time - seenAt < this.#ttl) break;
      this.#entries.delete(old);
    }
    return true;
  }

  /** Ids remembered now. */
  get size(): number {
    return this.#entries.size;
  }
}
