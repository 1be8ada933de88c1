/**
 * The outbox of a connection worker: the queue of frames to send and how they get into the
 * outbound ring. A message is encoded only when its turn comes; once the handshake has keys,
 * small messages ready together share one sealed frame, and every frame is sealed: straight into
 * the ring by a synchronous cipher, or through a window of frames sealed at once by an
 * asynchronous one.
 *
 * @module
 */
import type { AsyncCipher, Cipher, SyncCipher } from "../cipher.ts";
import { encodeShared } from "../codec.ts";
import { FRAME_HEADER_BYTES, writeFrameHeader } from "../frame.ts";
import type { AppMessage, Bye, FileRange, Message } from "../messages.ts";
import type { ByteRing } from "../ring.ts";

/** Frames sealed at once by an asynchronous cipher, so sealing overlaps writing. */
const MAX_SEALING = 8;
/** Bytes of plaintext being sealed at once. */
const SEALING_BYTES = 4 * 1024 * 1024;
/** Most bytes of small messages sealed together in one frame, and most messages. */
const BATCH_BYTES = 64 * 1024;
const MAX_BATCH = 256;

/** A frame waiting for its turn: a message to encode, or a body encoded already. */
interface Pending {
  message?: Message;
  /** A body sent as it is, in the clear: our hello. */
  unsealed?: Uint8Array;
  /** The message's bulk field is to be read from this file range. */
  fill?: FileRange;
  credit: number;
}

/** The plaintext of the next frame and the queue entries it carries. */
interface NextFrame {
  heads: Pending[];
  /** Null: nothing to send (a file that could not be read). */
  plain: Uint8Array | null;
  seal: boolean;
}

/** A message to send. */
export interface Outgoing {
  message: Message;
  /** Estimated bytes, handed back through `sent` once the message's frame is in the ring. */
  credit?: number;
  /** The message's app's bulk field is to be read from this file range. */
  fill?: FileRange;
}

/** What an {@linkcode Outbox} is given. */
export interface OutboxOptions {
  /** The plaintext of a message whose bulk field is read from a file; null to skip it. */
  bulkPlaintext(message: AppMessage, range: FileRange): Uint8Array | null;
  /** A message's frame is in the ring: its credit (estimated bytes) goes back to the sender. */
  sent(credit: number): void;
  /** Writing failed: the stream is broken. */
  failed(error: unknown): void;
}

/**
 * Queues frames and writes them into the outbound ring, in order, pings first.
 *
 * @example
 * ```ts
 * import { ByteRing } from "../ring.ts";
 * import { FrameDecoder } from "../frame.ts";
 * import { Outbox } from "./outbox.ts";
 * const ring = ByteRing.create(1024);
 * const outbox = new Outbox(ring, {
 *   bulkPlaintext: () => null,
 *   sent: () => {},
 *   failed: console.error,
 * });
 * await outbox.send([{ message: { t: "ping", n: 1 } }]);
 * console.log(new FrameDecoder().push(ring.readable()).length); // 1
 * ```
 */
export class Outbox {
  readonly #ring: ByteRing;
  readonly #options: OutboxOptions;
  readonly #queue: Pending[] = [];
  /** Pings and pongs: sent before anything still in `#queue`. */
  readonly #urgent: Pending[] = [];
  /** The one pong waiting to be sent, if any. */
  #pong: Pending | null = null;
  #cipher: Cipher | null = null;
  #tag = new Uint8Array(0);
  #pumping = false;
  #drained: Promise<void> = Promise.resolve();
  #closing = false;
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  /** Plaintext of a frame that carries several messages: sealed (copied) before it is reused. */
  readonly #batch = new Uint8Array(BATCH_BYTES);

  /** Writes into `ring`. */
  constructor(ring: ByteRing, options: OutboxOptions) {
    this.#ring = ring;
    this.#options = options;
  }

  /** True once {@linkcode close} was called: nothing more is taken. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Seals every frame from the next one on with `cipher`: the handshake has keys. */
  useCipher(cipher: Cipher): void {
    this.#cipher = cipher;
    this.#tag = new Uint8Array(cipher.tagBytes);
  }

  /** Queues a body to be sent as it is, in the clear, as a frame of its own: our hello. */
  sendUnsealed(body: Uint8Array): Promise<void> {
    this.#queue.push({ unsealed: body, credit: 0 });
    return this.#pump();
  }

  /**
   * Queues messages, in order; each one's `credit` goes back through `sent` once its frame is in
   * the ring. Heartbeats go ahead of queued data: a peer sending a long backlog must still be
   * able to tell that its neighbours are alive (and they that it is). Resolves once the queue has
   * drained as far as it can now.
   */
  send(messages: Outgoing[]): Promise<void> {
    if (this.#closing) return Promise.resolve();
    for (const { message, credit = 0, fill } of messages) {
      (message.t === "ping" ? this.#urgent : this.#queue).push({ message, credit, fill });
    }
    return this.#pump();
  }

  /**
   * Queues the answer to a ping. At most one pong waits: a peer that floods pings and reads
   * nothing gets its latest answered, and the queue does not grow.
   */
  pong(n: number): Promise<void> {
    if (this.#closing) return this.#drained; // nothing follows our bye
    if (this.#pong) this.#pong.message = { t: "pong", n };
    else {
      this.#pong = { message: { t: "pong", n }, credit: 0 };
      this.#urgent.push(this.#pong);
    }
    return this.#pump();
  }

  /** Sends what is queued, then `bye` if given, then ends the ring's stream. */
  close(bye?: Bye): Promise<void> {
    if (this.#closing) return this.#drained;
    if (bye) this.#queue.push({ message: bye, credit: 0 });
    this.#closing = true;
    return this.#pump();
  }

  /** Starts draining the queues unless already draining; resolves once they are drained. */
  #pump(): Promise<void> {
    this.#ring.wake();
    if (!this.#pumping) {
      this.#pumping = true;
      this.#drained = this.#drain();
    }
    return this.#drained;
  }

  async #drain(): Promise<void> {
    const ring = this.#ring;
    try {
      while (this.#hasNext() && !ring.consumerDone) {
        const cipher = this.#cipher;
        if (cipher && !cipher.sync) await this.#sealWindow(cipher);
        else await this.#writeNext(cipher);
      }
      ring.wake();
      if (this.#closing && this.#queue.length === 0) ring.closeProducer();
    } catch (error) {
      this.#options.failed(error);
    } finally {
      // In the same turn as the last check of the queues: a frame queued after it starts a drain.
      this.#pumping = false;
    }
  }

  /**
   * Writes the next frame: in the clear before the handshake has keys (the hello, a refusal's
   * peers and bye), else sealed in parts straight into the ring. The plaintext may be the codec's
   * reused buffer: nothing else encodes while a frame is part-written.
   */
  async #writeNext(cipher: SyncCipher | null): Promise<void> {
    const { heads, plain, seal } = this.#nextFrame(cipher !== null);
    if (plain) {
      if (cipher && seal) {
        writeFrameHeader(this.#header, plain.length + cipher.tagBytes);
        cipher.sealStart(this.#header);
        await this.#write(this.#header);
        await this.#sealInto(cipher, plain);
        cipher.sealEnd(this.#tag);
        await this.#write(this.#tag);
      } else {
        writeFrameHeader(this.#header, plain.length);
        await this.#write(this.#header);
        await this.#write(plain);
      }
    }
    for (const head of heads) this.#options.sent(head.credit);
  }

  /** Seals `plain` into the ring's free space, a part at a time as it frees. */
  async #sealInto(cipher: SyncCipher, plain: Uint8Array): Promise<void> {
    const ring = this.#ring;
    let at = 0;
    while (at < plain.length) {
      const space = ring.writable();
      if (space.length === 0) {
        if (ring.consumerDone) return;
        ring.wake();
        await ring.waitWritable();
        continue;
      }
      const count = Math.min(space.length, plain.length - at);
      cipher.sealPart(plain.subarray(at, at + count), space.subarray(0, count));
      ring.commit(count, { wake: false });
      at += count;
    }
  }

  /**
   * Seals a window of queued frames at once and writes them in order. An asynchronous cipher
   * copies its input when called, so the next frame is encoded (into the codec's reused buffer)
   * while earlier ones are sealed, and their nonces follow the order of the calls.
   */
  async #sealWindow(cipher: AsyncCipher): Promise<void> {
    const sealing: { heads: Pending[]; body: Promise<Uint8Array> | null }[] = [];
    let bytes = 0;
    while (this.#hasNext() && sealing.length < MAX_SEALING && bytes < SEALING_BYTES) {
      const { heads, plain, seal } = this.#nextFrame(true);
      if (!plain || !seal) {
        sealing.push({ heads, body: plain && Promise.resolve(plain) });
        continue;
      }
      bytes += plain.length;
      writeFrameHeader(this.#header, plain.length + cipher.tagBytes);
      const body = cipher.seal(plain, this.#header);
      body.catch(() => {}); // awaited below, in order; an earlier failure must not leave it loose
      sealing.push({ heads, body });
    }
    for (const { heads, body } of sealing) {
      if (body) {
        const frame = await body;
        writeFrameHeader(this.#header, frame.length);
        await this.#write(this.#header);
        await this.#write(frame);
      }
      for (const head of heads) this.#options.sent(head.credit);
    }
  }

  /**
   * Takes the next frame off the queues and builds its plaintext: a body given in the clear, a
   * message read from a file, or a message encoded, with the small messages behind it when
   * `batch` (only once sealed: a frame in the clear holds one message).
   */
  #nextFrame(batch: boolean): NextFrame {
    const head = this.#take();
    if (head.unsealed) return { heads: [head], plain: head.unsealed, seal: false };
    if (head.fill) {
      const plain = this.#options.bulkPlaintext(head.message as AppMessage, head.fill);
      return { heads: [head], plain, seal: true };
    }
    const plain = encodeShared(head.message!);
    if (!batch || plain.length >= BATCH_BYTES || !this.#nextIsSmallMessage()) {
      return { heads: [head], plain, seal: true };
    }
    // Small messages ready together go in one sealed frame: one seal and one open for many,
    // where each costs a hop to another thread with Web Crypto (see docs/ARCHITECTURE.md).
    const heads = [head];
    this.#batch.set(plain);
    let length = plain.length;
    while (heads.length < MAX_BATCH && this.#nextIsSmallMessage()) {
      const body = encodeShared(this.#peek()!.message!);
      if (length + body.length > BATCH_BYTES) break;
      this.#batch.set(body, length);
      length += body.length;
      heads.push(this.#take());
    }
    return { heads, plain: this.#batch.subarray(0, length), seal: true };
  }

  #hasNext(): boolean {
    return this.#urgent.length > 0 || this.#queue.length > 0;
  }

  /** The next frame to send: heartbeats first, then the rest in order. */
  #take(): Pending {
    const head = (this.#urgent.length > 0 ? this.#urgent : this.#queue).shift()!;
    if (head === this.#pong) this.#pong = null; // being sent: the next ping gets its own
    return head;
  }

  #peek(): Pending | undefined {
    return this.#urgent.length > 0 ? this.#urgent[0] : this.#queue[0];
  }

  #nextIsSmallMessage(): boolean {
    const next = this.#peek();
    return next !== undefined && next.message !== undefined && !next.fill;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    const ring = this.#ring;
    let at = ring.write(bytes);
    while (at < bytes.length && !ring.consumerDone) {
      ring.wake();
      await ring.waitWritable();
      at += ring.write(bytes.subarray(at));
    }
  }
}
