/**
 * The inbound layer of a connection worker: reads the inbound ring, cuts it into frames, charges
 * each to the rate limits, opens it once the handshake has keys, and hands the bodies up in
 * stream order. It knows nothing of what a body holds.
 *
 * @module
 */
import type { AsyncCipher, Cipher, SyncCipher } from "../cipher.ts";
import { decodeValue } from "../codec.ts";
import { ProtocolError } from "../errors.ts";
import { FRAME_HEADER_BYTES, FrameDecoder, readFrameHeader, writeFrameHeader } from "../frame.ts";
import { type ByteRing, copyAligned } from "../ring.ts";
import type { InboundLimits } from "./token_bucket.ts";

/**
 * Largest frame before encryption starts: a hello, or a refusal's peers list and bye. A stranger
 * who has proven nothing gets no 2 MiB buffers.
 */
export const MAX_PLAIN_FRAME = 64 * 1024;

/**
 * Takes one frame's body: in the clear before the handshake has keys (`opened` false: one
 * message), opened after (one message or several). The body is valid until the returned promise
 * settles (or, when nothing is returned, until the call returns).
 */
export type FrameHandler = (body: Uint8Array, opened: boolean) => Promise<void> | void;

/** What an {@linkcode Inbound} is given. */
export interface InboundOptions {
  /** Largest frame body: the largest message plus the tag of the cipher to come. */
  maxFrameSize: number;
  /** Charged for every frame as it arrives. */
  limits: InboundLimits;
  /** Each frame's body, in stream order. */
  frame: FrameHandler;
  /** Called once the frames of a read are handled and the ring released: room to flush, or wait. */
  afterRead(): Promise<void> | void;
  /** Stops reading: checked after each frame. */
  signal: AbortSignal;
}

/**
 * Reads frames from a ring until the stream ends or the signal aborts.
 *
 * @example
 * ```ts
 * import { ByteRing } from "../ring.ts";
 * import { encodeFrame } from "../frame.ts";
 * import { Inbound } from "./inbound.ts";
 * import { InboundLimits } from "./token_bucket.ts";
 * const ring = ByteRing.create(1024);
 * ring.write(encodeFrame({ t: "ping", n: 1 }));
 * ring.closeProducer();
 * const bodies: Uint8Array[] = [];
 * const inbound = new Inbound(ring, {
 *   maxFrameSize: 1024,
 *   limits: new InboundLimits({ framesPerSecond: 0, bytesPerSecond: 0 }),
 *   frame: (body) => void bodies.push(body.slice()),
 *   afterRead: () => {},
 *   signal: new AbortController().signal,
 * });
 * console.log(await inbound.run(), bodies.length); // "ended" 1
 * ```
 */
export class Inbound {
  readonly #ring: ByteRing;
  readonly #decoder: FrameDecoder;
  readonly #options: InboundOptions;
  #cipher: Cipher | null = null;
  /** True once a whole frame came: before it, bytes that break framing are another protocol. */
  #framed = false;
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #scratch = new Uint8Array(0);

  /** Reads `ring` once {@linkcode run} is called. */
  constructor(ring: ByteRing, options: InboundOptions) {
    this.#ring = ring;
    this.#options = options;
    this.#decoder = new FrameDecoder({ maxFrameSize: options.maxFrameSize });
  }

  /** Opens every frame from the next one on with `cipher`: the handshake has keys. */
  useCipher(cipher: Cipher): void {
    this.#cipher = cipher;
  }

  /**
   * Reads until the stream ends at a frame boundary (`"ended"`) or the signal aborts or the ring's
   * consumer is closed (`"stopped"`). Throws a {@linkcode ProtocolError} for what breaks the
   * protocol, after handling every frame before it.
   */
  async run(): Promise<"ended" | "stopped"> {
    const ring = this.#ring;
    const { signal } = this.#options;
    while (true) {
      await ring.waitReadable();
      if (ring.consumerDone || signal.aborted) return "stopped";
      const view = ring.readable();
      if (view.length === 0) {
        if (!ring.producerDone) continue;
        this.#decoder.end();
        return "ended";
      }
      const whole = this.#wholeFrameBytes(view);
      if (whole > view.length) {
        await ring.waitReadable(whole);
        continue;
      }
      const opening: Promise<Uint8Array>[] = [];
      for (const body of this.#push(view)) {
        const wait = this.#options.limits.frame(body.length);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const cipher = this.#cipher;
        if (cipher && !cipher.sync) {
          // Opened concurrently (on other threads), handled in order below.
          const opened = this.#openLater(cipher, body);
          opened.catch(() => {}); // awaited in order below: no failure is left unhandled meanwhile
          opening.push(opened);
          continue;
        }
        if (!cipher && body.length > MAX_PLAIN_FRAME) {
          throw new ProtocolError(
            "frame-too-large",
            `frame of ${body.length} bytes before encryption started exceeds ${MAX_PLAIN_FRAME}`,
          );
        }
        const handled = cipher
          ? this.#options.frame(this.#openNow(cipher, body), true)
          : this.#options.frame(body, false);
        if (handled) await handled;
        if (signal.aborted) return "stopped";
      }
      for (const opened of opening) {
        const handled = this.#options.frame(await opened, true);
        if (handled) await handled;
        if (signal.aborted) return "stopped";
      }
      this.#decoder.throwIfFailed();
      ring.release(view.length);
      await this.#options.afterRead();
    }
  }

  /**
   * The frames `view` completes. The first bytes a peer sends are its hello's frame: if they cannot
   * be one, the other end speaks another protocol (a web server, say), and is told apart from a
   * peer that broke the rules.
   */
  #push(view: Uint8Array): Uint8Array[] {
    if (this.#framed) return this.#decoder.push(view);
    try {
      const frames = this.#decoder.push(view);
      this.#framed = frames.length > 0;
      return frames;
    } catch (error) {
      throw notMeshtalk(view, error as Error) ?? error;
    }
  }

  /**
   * The bytes to wait for when the next frame will lie whole in the ring but has not all arrived:
   * it is then decoded in place, rather than copied piece by piece into a buffer of its own.
   * Otherwise 0.
   */
  #wholeFrameBytes(view: Uint8Array): number {
    if (this.#decoder.pendingBytes > 0 || view.length < FRAME_HEADER_BYTES) return 0;
    const length = readFrameHeader(view);
    const frameBytes = FRAME_HEADER_BYTES + length;
    const waitable = frameBytes <= this.#ring.contiguousFromRead &&
      length <= this.#options.maxFrameSize && !this.#ring.producerDone;
    return view.length < frameBytes && waitable ? frameBytes : 0;
  }

  /**
   * Opens a frame on this thread, straight from the ring. The first frame after the remote's hello
   * that fails to open may be a plaintext `bye` from a remote that gave up before it had our hello
   * (it then had no keys, so it had sealed nothing); it is read as one, and nothing else is.
   */
  #openNow(cipher: SyncCipher, body: Uint8Array): Uint8Array {
    const first = cipher.counter === 0;
    writeFrameHeader(this.#header, body.length);
    try {
      return cipher.open(body, this.#header);
    } catch (error) {
      if (first && isPlainBye(body)) return body;
      throw error;
    }
  }

  /**
   * Opens a frame on other threads, copied out of the ring first: Web Crypto refuses shared
   * memory. The first frame may be a plaintext `bye`, as in `#openNow`.
   */
  async #openLater(cipher: AsyncCipher, body: Uint8Array): Promise<Uint8Array> {
    const first = cipher.counter === 0;
    // Past the first frame, nothing is read in the clear, so the copy can go into one reused
    // buffer: Web Crypto takes its own copy when called. (A fresh buffer per frame left the
    // garbage of every piece to the collector: a downloader from four seeders peaked at ~400 MiB.)
    const copy = first ? copyAligned(body) : this.#copyToScratch(body);
    writeFrameHeader(this.#header, body.length);
    try {
      return await cipher.open(copy, this.#header);
    } catch (error) {
      if (first && isPlainBye(copy)) return copy;
      throw error;
    }
  }

  /** `bytes` copied into the reused buffer, at their alignment (aligned copies are fast). */
  #copyToScratch(bytes: Uint8Array): Uint8Array {
    const pad = bytes.byteOffset % 8;
    if (this.#scratch.length < pad + bytes.length) {
      this.#scratch = new Uint8Array(pad + bytes.length + 8);
    }
    const copy = this.#scratch.subarray(pad, pad + bytes.length);
    copy.set(bytes);
    return copy;
  }
}

function isPlainBye(body: Uint8Array): boolean {
  try {
    return (decodeValue(body) as { t?: unknown })?.t === "bye";
  } catch {
    return false;
  }
}

/**
 * A `not-meshtalk` error naming what the first bytes of a stream look like, or null when they
 * could still be a meshtalk peer's.
 *
 * @example
 * ```ts
 * import { notMeshtalk } from "./inbound.ts";
 * console.log(notMeshtalk(new TextEncoder().encode("HTTP/1.1 400 Bad Request"))?.message);
 * // "it spoke HTTP"
 * ```
 */
export function notMeshtalk(first: Uint8Array, why?: Error): ProtocolError | null {
  const text = new TextDecoder("latin1").decode(first.subarray(0, 64));
  const spoke = /^HTTP\/\d/.test(text)
    ? "HTTP"
    : text.startsWith("SSH-")
    ? "SSH"
    : first[0] === 0x16 && first[1] === 0x03
    ? "TLS"
    : null;
  if (spoke) return new ProtocolError("not-meshtalk", `it spoke ${spoke}`);
  if (first.length < FRAME_HEADER_BYTES) return null;
  return new ProtocolError(
    "not-meshtalk",
    `it sent ${first.length} bytes that are not a meshtalk handshake` +
      (why ? ` (${why.message})` : ""),
  );
}
