/**
 * How the frames of one direction of a connection are sealed and opened: the interface every
 * cipher has, and the rules every AES-256-GCM implementation follows (tag size, nonce, key
 * limit; docs/PROTOCOL.md section 4 states them byte for byte).
 *
 * A cipher is synchronous or asynchronous. A synchronous one works on the calling thread: the
 * outbox seals a frame straight into the outbound ring, part by part as space frees, and the
 * inbound layer opens a frame without an await. An asynchronous one (Web Crypto) works on other
 * threads: calls overlap, so the outbox keeps a window of frames being sealed.
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";

/** Bytes of the AES-GCM tag at the end of every sealed frame body. */
export const TAG_BYTES = 16;

/**
 * Frames sealed under one key before the connection must be reopened. Far below the 2^64 the
 * nonce could count, and within the 2^53 a JavaScript number counts exactly.
 */
export const MAX_FRAMES_PER_KEY = 2 ** 48;

/** What every cipher tells about itself. */
interface CipherBase {
  /** Bytes sealing adds to a frame body: 16 for AES-GCM's tag, 0 for the null cipher. */
  readonly tagBytes: number;
  /** Frames sealed (or opened) so far: the counter of the next one. */
  readonly counter: number;
  /** Frees what the cipher holds outside the JavaScript heap (a native key); calls after throw. */
  close?(): void;
}

/**
 * A cipher that works on the calling thread. A frame is sealed in parts, in order:
 * `sealStart(header)`, `sealPart` for each part of its plaintext, then `sealEnd(tag)`; so a frame
 * larger than the free space of a ring can still be sealed straight into it.
 *
 * @example
 * ```ts
 * import type { SyncCipher } from "./cipher.ts";
 * import { NullCipher } from "./null_cipher.ts";
 * function sealWhole(cipher: SyncCipher, plaintext: Uint8Array, header: Uint8Array): Uint8Array {
 *   const out = new Uint8Array(plaintext.length + cipher.tagBytes);
 *   cipher.sealStart(header);
 *   cipher.sealPart(plaintext, out.subarray(0, plaintext.length));
 *   cipher.sealEnd(out.subarray(plaintext.length));
 *   return out;
 * }
 * console.log(sealWhole(new NullCipher(), new Uint8Array([1, 2]), new Uint8Array(4))); // [1, 2]
 * ```
 */
export interface SyncCipher extends CipherBase {
  /** Tells the two kinds apart. */
  readonly sync: true;
  /**
   * Starts sealing the next frame: takes its nonce; its 4-byte `header` is the additional data,
   * read before this returns.
   */
  sealStart(header: Uint8Array): void;
  /**
   * Seals the frame's next `plaintext.length` bytes into `out`, which is as long and may be shared
   * memory (the outbound ring). `out` must not overlap `plaintext` unless it is the same bytes.
   */
  sealPart(plaintext: Uint8Array, out: Uint8Array): void;
  /** Ends the frame: writes its tag (`tagBytes` bytes) into `tag`. */
  sealEnd(tag: Uint8Array): void;
  /**
   * Opens the next frame's body, which may be a view of shared memory (the inbound ring). The
   * result is valid until the next call and may be a view of `sealed`. Throws a `decrypt-failed`
   * {@linkcode ProtocolError}.
   */
  open(sealed: Uint8Array, header: Uint8Array): Uint8Array;
}

/**
 * A cipher that works on other threads (Web Crypto). Calls may overlap: each takes its frame's
 * counter when called, so results belong on the wire, and opened frames in the stream, in call
 * order.
 *
 * @example
 * ```ts
 * import type { AsyncCipher } from "./cipher.ts";
 * import { WebCryptoAesGcm } from "./aes_gcm_webcrypto.ts";
 * async function roundTrip(send: AsyncCipher, receive: AsyncCipher): Promise<Uint8Array> {
 *   const header = new Uint8Array([0, 0, 0, 1 + send.tagBytes]);
 *   return await receive.open(await send.seal(new Uint8Array([7]), header), header);
 * }
 * const key = new Uint8Array(32);
 * const [a, b] = await Promise.all([WebCryptoAesGcm.fromKey(key), WebCryptoAesGcm.fromKey(key)]);
 * console.log(await roundTrip(a, b)); // [7]
 * ```
 */
export interface AsyncCipher extends CipherBase {
  /** Tells the two kinds apart. */
  readonly sync: false;
  /** Seals the next frame's body; `plaintext` and `header` are copied before this returns. */
  seal(plaintext: Uint8Array, header: Uint8Array): Promise<Uint8Array>;
  /**
   * Opens the next frame's body; rejects with a `decrypt-failed` {@linkcode ProtocolError}.
   * `sealed` must not be a view of shared memory.
   */
  open(sealed: Uint8Array, header: Uint8Array): Promise<Uint8Array>;
}

/**
 * Seals and opens the frames of one direction of a connection: see {@linkcode SyncCipher} and
 * {@linkcode AsyncCipher}.
 *
 * @example
 * ```ts
 * import type { Cipher } from "./cipher.ts";
 * const describe = (cipher: Cipher) => cipher.sync ? "on this thread" : "on other threads";
 * ```
 */
export type Cipher = SyncCipher | AsyncCipher;

/**
 * A kind of cipher, chosen once per connection: what makes the cipher of each direction from
 * the key the handshake derived for it.
 *
 * @example
 * ```ts
 * import type { CipherSuite } from "./cipher.ts";
 * import { nullCipherSuite } from "./null_cipher.ts";
 * const suite: CipherSuite = nullCipherSuite;
 * const cipher = await suite.create(new Uint8Array(32));
 * console.log(suite.name, cipher.tagBytes); // "none" 0
 * ```
 */
export interface CipherSuite<C extends Cipher = Cipher> {
  /** What it is, in a word for logs. */
  readonly name: string;
  /** Bytes its ciphers add to every frame body. */
  readonly tagBytes: number;
  /** The cipher of one direction. It keeps no reference to `key`, which may be zeroed after. */
  create(key: Uint8Array): Promise<C>;
}

/**
 * The nonces of one direction's frames under AES-GCM: 4 zero bytes and a 64-bit big-endian count
 * of the frames before. A frame altered, replayed, reordered, or following a dropped one fails to
 * open, since its position in the stream is part of its nonce.
 *
 * @example
 * ```ts
 * import { FrameNonces } from "./cipher.ts";
 * const nonces = new FrameNonces();
 * nonces.next();
 * console.log(nonces.next()); // [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
 * ```
 */
export class FrameNonces {
  #counter: number;

  /** Nonces from frame `first` on: 0 for a fresh key. */
  constructor(first = 0) {
    this.#counter = first;
  }

  /** Nonces taken so far: the counter of the next frame. */
  get counter(): number {
    return this.#counter;
  }

  /** The next frame's nonce; throws once {@linkcode MAX_FRAMES_PER_KEY} frames used the key. */
  next(): Uint8Array<ArrayBuffer> {
    if (this.#counter >= MAX_FRAMES_PER_KEY) {
      throw new ProtocolError(
        "decrypt-failed",
        `${MAX_FRAMES_PER_KEY} frames under one key: the connection must be reopened`,
      );
    }
    const nonce = new Uint8Array(12);
    const view = new DataView(nonce.buffer);
    view.setUint32(4, Math.floor(this.#counter / 2 ** 32));
    view.setUint32(8, this.#counter >>> 0);
    this.#counter++;
    return nonce;
  }
}

/**
 * The error of frame `counter` failing to open: what every cipher throws for it.
 *
 * @example
 * ```ts
 * import { decryptFailed } from "./cipher.ts";
 * console.log(decryptFailed(3).code); // "decrypt-failed"
 * ```
 */
export function decryptFailed(counter: number): ProtocolError {
  return new ProtocolError(
    "decrypt-failed",
    `frame ${counter} failed authentication: it was altered, replayed or reordered, ` +
      `or a frame before it was dropped`,
  );
}
