/**
 * Framing: every frame is a 4-byte big-endian body length followed by a MessagePack body.
 * Pure code, no I/O: the connection worker feeds it bytes as they arrive.
 *
 * @module
 */
import { encodeShared } from "./codec.ts";
import { ProtocolError } from "./errors.ts";

/** Bytes of the length prefix in front of every frame body. */
export const FRAME_HEADER_BYTES = 4;

/** Default limit on a frame body: room for a 1 MiB file piece plus its header. */
export const DEFAULT_MAX_FRAME_SIZE: number = 2 * 1024 * 1024;

/**
 * Encodes one message as a complete frame (length prefix and body) in a new buffer.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "@meshtalk/core/protocol";
 * const frame = encodeFrame({ t: "ping", n: 1 });
 * console.log(frame.length > 4); // true
 * ```
 */
export function encodeFrame(message: unknown): Uint8Array {
  const body = encodeShared(message);
  const frame = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  writeFrameHeader(frame, body.length);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Writes the header of a frame whose body is `bodyLength` bytes: 4 bytes, big-endian, at `at`.
 * The one place a frame header is written.
 *
 * @example
 * ```ts
 * import { writeFrameHeader } from "./frame.ts";
 * const header = new Uint8Array(4);
 * writeFrameHeader(header, 300);
 * console.log([...header]); // [0, 0, 1, 44]
 * ```
 */
export function writeFrameHeader(target: Uint8Array, bodyLength: number, at = 0): void {
  target[at] = bodyLength >>> 24;
  target[at + 1] = bodyLength >>> 16;
  target[at + 2] = bodyLength >>> 8;
  target[at + 3] = bodyLength;
}

/**
 * Reads the body length from the frame header at `at` of `bytes` (which must hold its 4 bytes).
 * The one place a frame header is read.
 *
 * @example
 * ```ts
 * import { readFrameHeader } from "./frame.ts";
 * console.log(readFrameHeader(new Uint8Array([0, 0, 1, 44]))); // 300
 * ```
 */
export function readFrameHeader(bytes: Uint8Array, at = 0): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/** Options of a {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest frame body accepted, in bytes; a larger length prefix is a `frame-too-large` error. */
  maxFrameSize?: number;
}

/**
 * Turns bytes arriving in arbitrary chunks into whole frame bodies.
 *
 * Bodies are views, valid until the next `push`: a body that lies whole inside one chunk is a
 * view of that chunk (no copy), and one split across chunks is assembled in a buffer the decoder
 * reuses for the next split frame, so memory never exceeds one `maxFrameSize` per decoder and
 * bulk transfers allocate nothing per frame. Copy what must outlive the next `push`.
 * After an error the decoder is spent: the connection must be closed.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder } from "@meshtalk/core/protocol";
 * const decoder = new FrameDecoder();
 * const bytes = encodeFrame({ t: "ping", n: 7 });
 * const first = decoder.push(bytes.subarray(0, 3)); // []
 * const rest = decoder.push(bytes.subarray(3)); // [body]
 * console.log(first.length, rest.length); // 0 1
 * ```
 */
export class FrameDecoder {
  readonly #maxFrameSize: number;
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFilled = 0;
  #body: Uint8Array | null = null;
  #assembly = new Uint8Array(0);
  /** A second assembly buffer: used while the first holds a body lent out by this push. */
  #spare = new Uint8Array(0);
  /** The assembly buffer holds a body returned by the current push: do not write over it. */
  #assemblyLent = false;
  #bodyFilled = 0;
  #failed: ProtocolError | null = null;

  /** Creates a decoder with the given frame size limit. */
  constructor(options: FrameDecoderOptions = {}) {
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  }

  /** Bytes of a frame received so far but not yet complete. */
  get pendingBytes(): number {
    return this.#headerFilled + this.#bodyFilled;
  }

  /**
   * Feeds the next chunk; returns the bodies of the frames it completes, in order. When the
   * chunk breaks the protocol after some whole frames, those frames are returned and the error
   * is thrown by {@linkcode throwIfFailed} (and every later call), so errors surface in stream order.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#failed) throw this.#failed;
    const frames: Uint8Array[] = [];
    this.#assemblyLent = false;
    try {
      this.#pushInto(chunk, frames);
    } catch (error) {
      if (frames.length === 0) throw error;
    }
    return frames;
  }

  /** Throws the error met after the frames the last {@linkcode push} returned, if any. */
  throwIfFailed(): void {
    if (this.#failed) throw this.#failed;
  }

  #pushInto(chunk: Uint8Array, frames: Uint8Array[]): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#body === null) {
        if (this.#headerFilled === 0 && chunk.length - at >= FRAME_HEADER_BYTES) {
          const length = readFrameHeader(chunk, at);
          at += FRAME_HEADER_BYTES;
          this.#checkLength(length);
          if (chunk.length - at >= length) {
            frames.push(chunk.subarray(at, at + length));
            at += length;
          } else {
            this.#startBody(length, chunk.byteOffset + at);
          }
          continue;
        }
        this.#header[this.#headerFilled++] = chunk[at++];
        if (this.#headerFilled === FRAME_HEADER_BYTES) {
          this.#headerFilled = 0;
          const length = readFrameHeader(this.#header);
          this.#checkLength(length);
          this.#startBody(length, chunk.byteOffset + at);
        }
        continue;
      }
      const take = Math.min(this.#body.length - this.#bodyFilled, chunk.length - at);
      this.#body.set(chunk.subarray(at, at + take), this.#bodyFilled);
      this.#bodyFilled += take;
      at += take;
      if (this.#bodyFilled === this.#body.length) {
        frames.push(this.#body);
        this.#assemblyLent = true;
        this.#body = null;
        this.#bodyFilled = 0;
      }
    }
  }

  /** Declares the end of the stream: throws a `truncated` error if a frame was cut off. */
  end(): void {
    if (this.#failed) throw this.#failed;
    if (this.#body !== null) {
      throw this.#fail(
        "truncated",
        `connection ended inside a frame: got ${this.#bodyFilled} of ${this.#body.length} body bytes`,
      );
    }
    if (this.#headerFilled > 0) {
      throw this.#fail(
        "truncated",
        `connection ended inside a frame header: got ${this.#headerFilled} of 4 bytes`,
      );
    }
  }

  /**
   * Starts assembling a body whose first byte sits at `sourceAddress` (byte offset in its buffer).
   * The body is placed at the same alignment mod 8: copies out of shared memory are several
   * times faster when source and destination align, and a stream keeps its alignment.
   */
  #startBody(length: number, sourceAddress: number): void {
    if (this.#assemblyLent) {
      [this.#assembly, this.#spare] = [this.#spare, this.#assembly];
      this.#assemblyLent = false;
    }
    if (this.#assembly.length < length + 8) this.#assembly = new Uint8Array(length + 8);
    const pad = sourceAddress % 8;
    this.#body = this.#assembly.subarray(pad, pad + length);
    this.#bodyFilled = 0;
  }

  #checkLength(length: number): void {
    if (length === 0) {
      throw this.#fail("bad-msgpack", "empty frame: a body holds one MessagePack value");
    }
    if (length > this.#maxFrameSize) {
      throw this.#fail(
        "frame-too-large",
        `frame of ${length} bytes exceeds the limit of ${this.#maxFrameSize} bytes`,
      );
    }
  }

  #fail(code: "truncated" | "bad-msgpack" | "frame-too-large", message: string): ProtocolError {
    this.#failed = new ProtocolError(code, message);
    return this.#failed;
  }
}
