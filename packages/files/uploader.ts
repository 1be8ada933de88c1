/**
 * Serving pieces: a queue of requests per peer, served one after another (the core paces each
 * send to the socket), refused as busy past a bound, cancelled on request, and all sends together
 * held to one upload rate. What goes to whom is told as upload flows (see `upload_flows.ts`).
 *
 * @module
 */
import type { FileRange } from "@meshtalk/core";
import { type UploadFlowEvent, UploadFlows } from "./upload_flows.ts";
import { type Refusal, REFUSED_BUSY, REFUSED_MISSING } from "./wire.ts";

/**
 * What an {@linkcode Uploader} serves from and sends through.
 *
 * @example
 * ```ts
 * import type { UploaderOptions } from "./uploader.ts";
 * const options: UploaderOptions = {
 *   locate: (_file, piece) => ({ path: "a.bin", offset: piece * 16384, length: 16384 }),
 *   send: () => Promise.resolve(),
 *   rate: 10 * 2 ** 20,
 * };
 * ```
 */
export interface UploaderOptions<R extends FileRange = FileRange> {
  /** Where the bytes of a piece are, or null when this peer does not have it. */
  locate(file: string, piece: number): R | null;
  /** Sends a piece, from where `locate` said it is; rejects when the peer is gone. */
  send(peer: string, file: string, range: R): Promise<void>;
  /** Most bytes per second sent to all peers together (default 0: no limit). */
  rate?: number;
  /** Requests waiting for one peer; more are refused as busy (default 256). */
  maxQueue?: number;
  /** Hears each upload flow start and stop (see `UploadFlows` and {@linkcode Uploader.sweep}). */
  onFlow?: (event: UploadFlowEvent) => void;
  /** A flow with nothing sent for this long stops at the next sweep (default 2,000 ms). */
  flowIdleMs?: number;
  /** The time in ms (default `performance.now`). */
  now?: () => number;
}

interface Queue {
  requests: { file: string; piece: number }[];
  serving: boolean;
}

/**
 * The requests of every peer, served in the order they came.
 *
 * @example
 * ```ts
 * import { Uploader } from "./uploader.ts";
 * const sent: string[] = [];
 * const uploader = new Uploader({
 *   locate: (file, piece) => file === "f" ? { path: "f.bin", offset: piece * 16384, length: 16384 } : null,
 *   send: (peer, _file, range) => { sent.push(`${peer}@${range.offset}`); return Promise.resolve(); },
 * });
 * console.log(uploader.request("ada", "f", 1), uploader.request("ada", "g", 0)); // null "do not have it"
 * await uploader.idle();
 * console.log(sent); // ["ada@16384"]
 * ```
 */
export class Uploader<R extends FileRange = FileRange> {
  readonly #options: UploaderOptions<R>;
  readonly #maxQueue: number;
  readonly #queues = new Map<string, Queue>();
  readonly #pacer: Pacer;
  readonly #serving = new Set<Promise<void>>();
  readonly #flows: UploadFlows;
  readonly #now: () => number;
  #closed = false;

  /** An uploader with nothing queued. */
  constructor(options: UploaderOptions<R>) {
    this.#options = options;
    this.#maxQueue = options.maxQueue ?? 256;
    this.#pacer = new Pacer(options.rate ?? 0);
    this.#flows = new UploadFlows(options.onFlow ?? (() => {}), options.flowIdleMs ?? 2000);
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Queues `peer`'s request for `piece` of `file`; returns null, or why it is refused: this peer
   * lacks the piece, or `peer` has too many requests waiting.
   */
  request(peer: string, file: string, piece: number): Refusal | null {
    if (!this.#options.locate(file, piece)) return REFUSED_MISSING;
    let queue = this.#queues.get(peer);
    if (!queue) this.#queues.set(peer, queue = { requests: [], serving: false });
    if (queue.requests.length >= this.#maxQueue) return REFUSED_BUSY;
    queue.requests.push({ file, piece });
    if (!queue.serving) {
      const serving = this.#serve(peer, queue);
      this.#serving.add(serving);
      serving.finally(() => this.#serving.delete(serving));
    }
    return null;
  }

  /** Drops `peer`'s request for `piece` of `file`, unless it is being sent already. */
  cancel(peer: string, file: string, piece: number): void {
    const queue = this.#queues.get(peer);
    if (queue) queue.requests = queue.requests.filter((r) => r.file !== file || r.piece !== piece);
  }

  /** Requests waiting for `peer`. */
  waiting(peer: string): number {
    return this.#queues.get(peer)?.requests.length ?? 0;
  }

  /** Forgets `peer`'s requests: it left (its flows stop). */
  drop(peer: string): void {
    const queue = this.#queues.get(peer);
    if (queue) queue.requests = [];
    this.#queues.delete(peer);
    this.#flows.drop(peer);
  }

  /** Stops the flows that have sent nothing for the idle time: call it now and then. */
  sweep(): void {
    this.#flows.sweep(this.#now());
  }

  /** Resolves once nothing is being sent. */
  async idle(): Promise<void> {
    while (this.#serving.size > 0) await Promise.all(this.#serving);
  }

  /** Serves nothing more; what is being sent finishes. Every flow stops. */
  close(): void {
    this.#closed = true;
    this.#queues.clear();
    this.#flows.close();
  }

  async #serve(peer: string, queue: Queue): Promise<void> {
    queue.serving = true;
    try {
      while (queue.requests.length > 0 && !this.#closed) {
        const { file, piece } = queue.requests.shift()!;
        // It may have gone since it was asked for (a download stopped).
        const range = this.#options.locate(file, piece);
        if (!range) continue;
        const wait = this.#pacer.delay(range.length, performance.now());
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.#closed) break;
        this.#flows.sending(peer, file, this.#now());
        await this.#options.send(peer, file, range);
        this.#flows.sent(peer, file, range.length, this.#now());
      }
    } catch {
      // The peer left: its queue goes with it, and its flows stop.
      if (this.#queues.get(peer) === queue) this.#queues.delete(peer);
      this.#flows.drop(peer);
    } finally {
      queue.serving = false;
    }
  }
}

/**
 * One upload rate shared by every send: each send is due when the bytes sent before it have had
 * their time at the rate.
 *
 * @example
 * ```ts
 * import { Pacer } from "./uploader.ts";
 * const pacer = new Pacer(1000); // bytes per second
 * console.log(pacer.delay(500, 0), pacer.delay(500, 0)); // 0 500
 * ```
 */
export class Pacer {
  readonly #rate: number;
  /** When the bytes sent so far are all due, at the rate. */
  #clock = 0;

  /** A pacer of `rate` bytes per second; 0 or less means no limit. */
  constructor(rate: number) {
    this.#rate = rate;
  }

  /** How long to wait (ms) from `now` before sending `bytes` more. */
  delay(bytes: number, now: number): number {
    if (this.#rate <= 0) return 0;
    const duration = (bytes / this.#rate) * 1000;
    this.#clock = Math.max(this.#clock, now) + duration;
    return Math.max(0, this.#clock - now - duration);
  }
}
