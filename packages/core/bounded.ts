/**
 * Collections with a size cap: past it, the entry added longest ago goes. What a peer keeps about
 * others (ids seen, keys, penalties, files) must stay bounded whatever they send.
 *
 * @module
 */

/**
 * A `Map` that holds at most `max` entries: adding a new key to a full map drops the oldest one
 * (in insertion order). Setting a key already there keeps its place; {@linkcode touch} moves it
 * to the newest place (for least-recently-used caches).
 *
 * @example
 * ```ts
 * import { BoundedMap } from "@meshtalk/core";
 * const recent = new BoundedMap<string, number>(2);
 * recent.set("a", 1).set("b", 2).set("c", 3);
 * console.log([...recent.keys()]); // ["b", "c"]
 * ```
 */
export class BoundedMap<K, V> extends Map<K, V> {
  /** Most entries held. */
  readonly max: number;

  /** An empty map of at most `max` entries. */
  constructor(max: number) {
    super();
    if (!(max >= 1)) throw new RangeError(`a bounded map holds at least 1 entry, not ${max}`);
    this.max = max;
  }

  /** Sets `key`; a new key in a full map first drops the oldest entry. */
  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.max) this.delete(this.keys().next().value!);
    return super.set(key, value);
  }

  /** Moves `key` to the newest place; false if absent. */
  touch(key: K): boolean {
    if (!this.has(key)) return false;
    const value = this.get(key)!;
    this.delete(key);
    super.set(key, value);
    return true;
  }
}

/**
 * A `Set` that holds at most `max` values: adding a new value to a full set drops the oldest.
 *
 * @example
 * ```ts
 * import { BoundedSet } from "@meshtalk/core";
 * const seen = new BoundedSet<string>(2);
 * seen.add("a").add("b").add("c");
 * console.log(seen.has("a"), seen.has("c")); // false true
 * ```
 */
export class BoundedSet<T> extends Set<T> {
  /** Most values held. */
  readonly max: number;

  /** An empty set of at most `max` values. */
  constructor(max: number) {
    super();
    if (!(max >= 1)) throw new RangeError(`a bounded set holds at least 1 value, not ${max}`);
    this.max = max;
  }

  /** Adds `value`; a new value in a full set first drops the oldest. */
  override add(value: T): this {
    // Set's constructor calls add before max is set: nothing is passed to it here.
    if (this.max !== undefined && !this.has(value) && this.size >= this.max) {
      this.delete(this.values().next().value!);
    }
    return super.add(value);
  }
}
