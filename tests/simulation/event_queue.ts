/**
 * The simulation's clock: a queue of events by time, kept in a binary heap over flat arrays so
 * that millions of events cost no allocation each.
 *
 * @module
 */

const INITIAL_CAPACITY = 1024;

/**
 * Events, each a time, a kind, three whole numbers and one value, taken in order of time (and, at
 * the same time, in the order they were put in: two frames sent on one link arrive in order).
 * {@linkcode pop} moves the next event into the fields `time`, `kind`, `a`, `b`, `c`, `payload`.
 *
 * @example
 * ```ts
 * import { EventQueue } from "./event_queue.ts";
 * const queue = new EventQueue();
 * queue.push(20, 1, 0, 0, 0, "later");
 * queue.push(10, 2, 0, 0, 0, "first");
 * queue.push(10, 3, 0, 0, 0, "second");
 * const order: unknown[] = [];
 * while (queue.pop()) order.push(queue.payload);
 * console.log(order); // ["first", "second", "later"]
 * ```
 */
export class EventQueue {
  /** The time of the event popped last. */
  time = 0;
  /** Its kind. */
  kind = 0;
  /** Its first number. */
  a = 0;
  /** Its second number. */
  b = 0;
  /** Its third number. */
  c = 0;
  /** Its value. */
  payload: unknown = undefined;

  // Each event lives in a slot of these arrays; the heap orders slot numbers.
  #times = new Float64Array(INITIAL_CAPACITY);
  #order = new Float64Array(INITIAL_CAPACITY);
  #kinds = new Int32Array(INITIAL_CAPACITY);
  #as = new Int32Array(INITIAL_CAPACITY);
  #bs = new Int32Array(INITIAL_CAPACITY);
  #cs = new Int32Array(INITIAL_CAPACITY);
  #payloads: unknown[] = new Array(INITIAL_CAPACITY).fill(undefined);
  #heap = new Int32Array(INITIAL_CAPACITY);
  #free = new Int32Array(INITIAL_CAPACITY);
  #freeCount = 0;
  #slots = 0;
  #size = 0;
  #pushed = 0;

  /** Events waiting. */
  get size(): number {
    return this.#size;
  }

  /** The time of the next event, or Infinity if there is none. */
  peekTime(): number {
    return this.#size === 0 ? Infinity : this.#times[this.#heap[0]];
  }

  /** Puts in an event. */
  push(time: number, kind: number, a: number, b: number, c: number, payload: unknown): void {
    let slot: number;
    if (this.#freeCount > 0) slot = this.#free[--this.#freeCount];
    else {
      if (this.#slots === this.#times.length) this.#grow();
      slot = this.#slots++;
    }
    this.#times[slot] = time;
    this.#order[slot] = this.#pushed++;
    this.#kinds[slot] = kind;
    this.#as[slot] = a;
    this.#bs[slot] = b;
    this.#cs[slot] = c;
    this.#payloads[slot] = payload;
    this.#siftUp(this.#size++, slot);
  }

  /** Takes out the next event into this queue's fields; false if there is none. */
  pop(): boolean {
    if (this.#size === 0) return false;
    const slot = this.#heap[0];
    this.time = this.#times[slot];
    this.kind = this.#kinds[slot];
    this.a = this.#as[slot];
    this.b = this.#bs[slot];
    this.c = this.#cs[slot];
    this.payload = this.#payloads[slot];
    this.#payloads[slot] = undefined;
    this.#free[this.#freeCount++] = slot;
    const last = this.#heap[--this.#size];
    if (this.#size > 0) this.#siftDown(0, last);
    return true;
  }

  #before(x: number, y: number): boolean {
    const tx = this.#times[x];
    const ty = this.#times[y];
    return tx < ty || (tx === ty && this.#order[x] < this.#order[y]);
  }

  #siftUp(at: number, slot: number): void {
    const heap = this.#heap;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.#before(slot, heap[parent])) break;
      heap[at] = heap[parent];
      at = parent;
    }
    heap[at] = slot;
  }

  #siftDown(at: number, slot: number): void {
    const heap = this.#heap;
    const size = this.#size;
    while (true) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (child + 1 < size && this.#before(heap[child + 1], heap[child])) child++;
      if (!this.#before(heap[child], slot)) break;
      heap[at] = heap[child];
      at = child;
    }
    heap[at] = slot;
  }

  #grow(): void {
    const capacity = this.#times.length * 2;
    const grown = <T extends Float64Array | Int32Array>(old: T, make: (n: number) => T): T => {
      const array = make(capacity);
      array.set(old);
      return array;
    };
    this.#times = grown(this.#times, (n) => new Float64Array(n));
    this.#order = grown(this.#order, (n) => new Float64Array(n));
    this.#kinds = grown(this.#kinds, (n) => new Int32Array(n));
    this.#as = grown(this.#as, (n) => new Int32Array(n));
    this.#bs = grown(this.#bs, (n) => new Int32Array(n));
    this.#cs = grown(this.#cs, (n) => new Int32Array(n));
    this.#heap = grown(this.#heap, (n) => new Int32Array(n));
    this.#free = grown(this.#free, (n) => new Int32Array(n));
    this.#payloads.length = capacity;
  }
}
