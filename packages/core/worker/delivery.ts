/**
 * Delivery: hands decoded messages to the main thread in batches, one post per read of the ring.
 * A batch is posted once the file writes and hashes of its messages are done, in order, and no
 * more than {@linkcode MAX_BATCHES_IN_FLIGHT} are posted and not yet dispatched: then the worker
 * stops reading its ring, and TCP passes the backpressure on.
 *
 * @module
 */
import type { Message } from "../messages.ts";
import { MAX_BATCHES_IN_FLIGHT, Slot } from "../worker_protocol.ts";

/** Batches handed to delivery and not yet posted before the read loop waits. */
const MAX_QUEUED_BATCHES = 8;

/** What a {@linkcode Delivery} is given. */
export interface DeliveryOptions {
  /** The connection's shared control array: batches posted and dispatched are counted there. */
  control: Int32Array;
  /** Posts a batch to the main thread, moving the buffers listed. */
  post(messages: Message[], transfer: Transferable[]): void;
  /** True once the connection is closing: stop waiting for the main thread. */
  stopped(): boolean;
  /** A batch could not be delivered (a file write it waited for threw). */
  failed(error: unknown): void;
}

/**
 * Collects messages into batches and posts them in order.
 *
 * @example
 * ```ts
 * import { Delivery } from "./delivery.ts";
 * const posted: unknown[][] = [];
 * const delivery = new Delivery({
 *   control: new Int32Array(new SharedArrayBuffer(16)),
 *   post: (messages) => posted.push(messages),
 *   stopped: () => false,
 *   failed: console.error,
 * });
 * delivery.push({ t: "ping", n: 1 });
 * delivery.push({ t: "ping", n: 2 });
 * await delivery.flush();
 * console.log(posted.length, posted[0].length); // 1 2
 * ```
 */
export class Delivery {
  readonly #options: DeliveryOptions;
  #batch: Message[] = [];
  /** What the batch being collected must wait for before it is posted. */
  #waits: Promise<void>[] = [];
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #wake: (() => void) | null = null;

  /** Delivers through `options`. */
  constructor(options: DeliveryOptions) {
    this.#options = options;
  }

  /** Adds a message to the batch being collected. */
  push(message: Message): void {
    this.#batch.push(message);
  }

  /** The batch being collected is posted only once `done` settles. */
  after(done: Promise<void>): void {
    this.#waits.push(done);
  }

  /**
   * Hands the batch being collected to the delivery chain, which posts batches in order, each
   * once what it waits for is done. Resolves once it is posted. The read loop goes on meanwhile:
   * receiving, writing and hashing overlap.
   */
  flush(): Promise<void> {
    if (this.#batch.length === 0) return this.#chain;
    const messages = this.#batch;
    const waits = this.#waits;
    this.#batch = [];
    this.#waits = [];
    this.#queued++;
    this.#chain = this.#chain
      .then(async () => {
        await Promise.all(waits);
        await this.#post(messages);
      })
      .catch(this.#options.failed)
      .finally(() => {
        this.#queued--;
        const wake = this.#wake;
        this.#wake = null;
        wake?.();
      });
    return this.#chain;
  }

  /** Resolves once fewer than {@linkcode MAX_QUEUED_BATCHES} batches wait to be posted. */
  async room(): Promise<void> {
    while (this.#queued >= MAX_QUEUED_BATCHES) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      await promise;
    }
  }

  async #post(messages: Message[]): Promise<void> {
    const { control } = this.#options;
    while (true) {
      const done = Atomics.load(control, Slot.batchesDone);
      if (Atomics.load(control, Slot.batchesPosted) - done < MAX_BATCHES_IN_FLIGHT) break;
      const wait = Atomics.waitAsync(control, Slot.batchesDone, done, 1000);
      if (wait.async) await wait.value;
      if (this.#options.stopped()) return;
    }
    Atomics.add(control, Slot.batchesPosted, 1);
    this.#options.post(messages, transferables(messages));
  }
}

/** Binary fields of app bodies were copied by validation into buffers of their own: move them. */
function transferables(messages: Message[]): Transferable[] {
  const out: ArrayBuffer[] = [];
  const walk = (value: unknown): void => {
    if (value instanceof Uint8Array) {
      if (value.byteLength > 1024 && value.buffer instanceof ArrayBuffer) out.push(value.buffer);
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === "object" && value !== null) Object.values(value).forEach(walk);
  };
  for (const message of messages) if (message.t === "app") walk(message.body);
  return out;
}
