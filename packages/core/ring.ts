/**
 * A single-producer, single-consumer byte ring in a SharedArrayBuffer: how bytes cross between
 * the main thread (which owns the socket) and a connection's worker without a postMessage per
 * chunk. Positions are 32-bit counters that wrap; `Atomics.waitAsync` wakes the other side.
 *
 * @module
 */

const WRITE = 0; // bytes ever committed by the producer, mod 2^32
const READ = 1; // bytes ever released by the consumer, mod 2^32
const PRODUCER_DONE = 2; // 1 once the producer will write no more
const CONSUMER_DONE = 3; // 1 once the consumer will read no more
// Bumped by every commit, release and close. Waiters read it before checking their condition
// and wait on it, so no event can fall between the check and the wait.
const SEQUENCE = 4;
const CONTROL_BYTES = 32;

/**
 * Copies `source` into a new buffer of its own. V8 copies shared memory at ~13 GB/s when source
 * and destination have the same address mod 8, and at ~2 GB/s when not (ordinary buffers do not
 * care): so the copy is placed at the source's alignment, as a view a few bytes into its buffer.
 *
 * @example
 * ```ts
 * import { copyAligned } from "./ring.ts";
 * const shared = new Uint8Array(new SharedArrayBuffer(16)).fill(1);
 * const own = copyAligned(shared.subarray(3, 11)); // 8 bytes, not shared
 * ```
 */
export function copyAligned(source: Uint8Array): Uint8Array {
  if (!(source.buffer instanceof SharedArrayBuffer)) return new Uint8Array(source);
  const pad = source.byteOffset % 8;
  const copy = new Uint8Array(source.length + pad).subarray(pad);
  copy.set(source);
  return copy;
}

/** Bytes below which the alignment of a copy does not matter enough to stage it. */
const STAGE_MIN = 4096;
/** Largest staging buffer: longer copies are staged in parts. */
const STAGE_MAX = 1024 * 1024;
/** One staging buffer per thread: a thread makes one copy at a time. */
let stage = new Uint8Array(0);

/**
 * Copies `source` into `target` (as long or longer), fast whatever their alignments: a copy into
 * shared memory from a source at another address mod 8 is staged through an ordinary buffer
 * placed at the target's alignment: two fast copies beat a slow one (see {@linkcode copyAligned}).
 *
 * @example
 * ```ts
 * import { copyInto } from "./ring.ts";
 * const shared = new Uint8Array(new SharedArrayBuffer(8192));
 * copyInto(shared.subarray(1), new Uint8Array(5000).fill(9));
 * console.log(shared[1], shared[5000], shared[5001]); // 9 9 0
 * ```
 */
export function copyInto(target: Uint8Array, source: Uint8Array): void {
  const shift = target.byteOffset % 8;
  if (
    source.length < STAGE_MIN || source.byteOffset % 8 === shift ||
    !(target.buffer instanceof SharedArrayBuffer)
  ) {
    target.set(source, 0);
    return;
  }
  if (stage.length < Math.min(source.length, STAGE_MAX) + 8) {
    stage = new Uint8Array(Math.min(source.length, STAGE_MAX) + 8);
  }
  for (let at = 0; at < source.length; at += stage.length - 8) {
    const part = source.subarray(at, at + stage.length - 8);
    const staged = stage.subarray(shift, shift + part.length);
    staged.set(part); // ordinary to ordinary: fast at any alignment
    target.set(staged, at); // now aligned with the target
  }
}

/**
 * One direction of a connection's byte stream, shared between two threads.
 *
 * @example
 * ```ts
 * import { ByteRing } from "./ring.ts";
 * const ring = ByteRing.create(1024);
 * ring.write(new Uint8Array([1, 2, 3]));
 * ring.wake();
 * const view = ring.readable(); // Uint8Array [1, 2, 3]
 * ring.release(view.length);
 * ```
 */
export class ByteRing {
  /** The shared memory; post it to the other thread and wrap it with {@linkcode ByteRing.from}. */
  readonly buffer: SharedArrayBuffer;
  readonly #control: Int32Array;
  readonly #data: Uint8Array;
  readonly #capacity: number;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.#data = new Uint8Array(buffer, CONTROL_BYTES);
    this.#capacity = this.#data.length;
  }

  /** A new empty ring of `capacity` bytes (a power of two, so positions wrap cleanly). */
  static create(capacity: number): ByteRing {
    if (capacity < 16 || (capacity & (capacity - 1)) !== 0 || capacity > 2 ** 30) {
      throw new RangeError(`ring capacity must be a power of two from 16 to 2^30, got ${capacity}`);
    }
    return new ByteRing(new SharedArrayBuffer(CONTROL_BYTES + capacity));
  }

  /** Wraps a ring created by another thread. */
  static from(buffer: SharedArrayBuffer): ByteRing {
    return new ByteRing(buffer);
  }

  /** Bytes written and not yet released. */
  get used(): number {
    return (Atomics.load(this.#control, WRITE) - Atomics.load(this.#control, READ)) >>> 0;
  }

  /** True once the producer has closed its end. */
  get producerDone(): boolean {
    return Atomics.load(this.#control, PRODUCER_DONE) === 1;
  }

  /** True once the consumer has closed its end: the producer should stop. */
  get consumerDone(): boolean {
    return Atomics.load(this.#control, CONSUMER_DONE) === 1;
  }

  // Producer side.

  /** The contiguous free space after the write position (may be empty when full). */
  writable(): Uint8Array {
    const write = Atomics.load(this.#control, WRITE) >>> 0;
    const free = this.#capacity - this.used;
    const at = write % this.#capacity;
    return this.#data.subarray(at, at + Math.min(free, this.#capacity - at));
  }

  /**
   * Publishes `count` bytes written into the view from {@linkcode writable}, and wakes the
   * consumer unless `wake` is false (then call {@linkcode wake} once after a batch of commits).
   */
  commit(count: number, { wake = true }: { wake?: boolean } = {}): void {
    if (count === 0) return;
    Atomics.add(this.#control, WRITE, count);
    if (wake) this.#signal();
  }

  /** Free bytes, contiguous or not. */
  get free(): number {
    return this.#capacity - this.used;
  }

  /**
   * Copies as much of `bytes` as fits, wrapping around; returns how many were taken. Does not
   * wake the consumer: call {@linkcode wake} once after a batch of writes.
   */
  write(bytes: Uint8Array): number {
    let taken = 0;
    while (taken < bytes.length) {
      const space = this.writable();
      if (space.length === 0) break;
      const count = Math.min(space.length, bytes.length - taken);
      copyInto(space, bytes.subarray(taken, taken + count));
      taken += count;
      Atomics.add(this.#control, WRITE, count);
    }
    return taken;
  }

  /** Wakes a consumer waiting in {@linkcode waitReadable}. */
  wake(): void {
    this.#signal();
  }

  /** Resolves once there is free space or the consumer is done. */
  async waitWritable(): Promise<void> {
    while (true) {
      const sequence = Atomics.load(this.#control, SEQUENCE);
      if (this.used !== this.#capacity || this.consumerDone) return;
      const wait = Atomics.waitAsync(this.#control, SEQUENCE, sequence);
      if (wait.async) await wait.value;
    }
  }

  /** Marks the end of the stream and wakes the consumer. */
  closeProducer(): void {
    Atomics.store(this.#control, PRODUCER_DONE, 1);
    this.#signal();
  }

  // Consumer side.

  /** Bytes from the read position to the end of the ring's memory, before it wraps. */
  get contiguousFromRead(): number {
    return this.#capacity - (Atomics.load(this.#control, READ) >>> 0) % this.#capacity;
  }

  /** The contiguous written bytes from the read position (may be empty). */
  readable(): Uint8Array {
    const read = Atomics.load(this.#control, READ) >>> 0;
    const at = read % this.#capacity;
    return this.#data.subarray(at, at + Math.min(this.used, this.#capacity - at));
  }

  /** Frees `count` bytes from the read position for the producer. */
  release(count: number): void {
    if (count === 0) return;
    Atomics.add(this.#control, READ, count);
    this.#signal();
  }

  /** Resolves once at least `bytes` are readable, or either side is done. */
  async waitReadable(bytes = 1): Promise<void> {
    while (true) {
      const sequence = Atomics.load(this.#control, SEQUENCE);
      if (this.used >= bytes || this.producerDone || this.consumerDone) return;
      const wait = Atomics.waitAsync(this.#control, SEQUENCE, sequence);
      if (wait.async) await wait.value;
    }
  }

  /** Stops reading: the producer's waits end and further writes are pointless. */
  closeConsumer(): void {
    Atomics.store(this.#control, CONSUMER_DONE, 1);
    this.#signal();
  }

  #signal(): void {
    Atomics.add(this.#control, SEQUENCE, 1);
    Atomics.notify(this.#control, SEQUENCE);
  }
}
