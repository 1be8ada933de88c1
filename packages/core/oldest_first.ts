/**
 * Which key was seen longest ago, found without looking at every key: a binary heap of sightings
 * ordered by time, the key first noted earliest winning a tie. A key seen again is noted again;
 * its older sightings stay in the heap until they reach the top, where the owner's `isCurrent`
 * tells them apart and they are dropped. The owner rebuilds the heap ({@linkcode
 * OldestFirst.compact}) when stale sightings pile up.
 *
 * @module
 */

/** One sighting of a key: when, and the key's place in the order keys were first noted. */
export interface Sighting<K> {
  /** The key. */
  key: K;
  /** When it was seen. */
  at: number;
  /** Orders keys seen at the same time: the key first noted earlier has the lower. */
  order: number;
}

/**
 * Keys by when they were last seen, the one seen longest ago first; of keys seen at the same time,
 * the one first noted earliest.
 *
 * @example
 * ```ts
 * import { OldestFirst } from "./oldest_first.ts";
 * const seenAt = new Map([["a", 300], ["b", 100], ["c", 100]]);
 * const heap = new OldestFirst<string>((s) => seenAt.get(s.key) === s.at);
 * [...seenAt].forEach(([key, at], order) => heap.note({ key, at, order }));
 * seenAt.set("b", 400); // b is seen again
 * heap.note({ key: "b", at: 400, order: 1 });
 * console.log(heap.take(), heap.take(), heap.take(), heap.take()); // "c" "a" "b" undefined
 * ```
 */
export class OldestFirst<K> {
  readonly #isCurrent: (sighting: Sighting<K>) => boolean;
  #heap: Sighting<K>[] = [];

  /**
   * An empty heap; `isCurrent` says whether a sighting still stands (its key is still there, and
   * was last seen then), and is asked of the oldest only.
   */
  constructor(isCurrent: (sighting: Sighting<K>) => boolean) {
    this.#isCurrent = isCurrent;
  }

  /** Sightings held, stale ones included. */
  get size(): number {
    return this.#heap.length;
  }

  /** Notes that `sighting.key` was seen at `sighting.at`. */
  note(sighting: Sighting<K>): void {
    const heap = this.#heap;
    // Sift up: move parents down into the hole until the sighting's place is found.
    let i = heap.length;
    heap.push(sighting);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(sighting, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = sighting;
  }

  /** Removes and returns the key seen longest ago whose sighting still stands, if any. */
  take(): K | undefined {
    while (this.#heap.length > 0) {
      const top = this.#heap[0];
      this.#popTop();
      if (this.#isCurrent(top)) return top.key;
    }
    return undefined;
  }

  /** Starts again from `sightings` (one per key, each current): stale ones are gone. */
  compact(sightings: Iterable<Sighting<K>>): void {
    this.#heap = [];
    for (const sighting of sightings) this.note(sighting);
  }

  #popTop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    const size = heap.length;
    if (size === 0) return;
    // Sift down from the root: move the earlier child up into the hole until `last` fits.
    let i = 0;
    while (true) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && before(heap[child + 1], heap[child])) child++;
      if (!before(heap[child], last)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
  }
}

function before<K>(x: Sighting<K>, y: Sighting<K>): boolean {
  return x.at < y.at || (x.at === y.at && x.order < y.order);
}
