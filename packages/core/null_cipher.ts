/**
 * The null cipher: "sealed" bytes are the plaintext, with no tag, so frames are as long as their
 * plaintext. It exists only for the benchmark's unencrypted baseline (`plaintext` in the worker
 * setup), which then takes the same path through the worker as encrypted connections, minus the
 * cryptography. Never use it for anything else: it protects nothing.
 *
 * @module
 */
import type { CipherSuite, SyncCipher } from "./cipher.ts";
import { copyInto } from "./ring.ts";

/**
 * Seals by copying and opens by returning the bytes as they are.
 *
 * @example
 * ```ts
 * import { NullCipher } from "./null_cipher.ts";
 * const cipher = new NullCipher();
 * const body = new Uint8Array([1, 2, 3]);
 * console.log(cipher.open(body, new Uint8Array(4)) === body, cipher.tagBytes); // true 0
 * ```
 */
export class NullCipher implements SyncCipher {
  /** Works on the calling thread. */
  readonly sync: true = true;
  /** No tag: a frame is as long as its plaintext. */
  readonly tagBytes: number = 0;
  #counter = 0;

  /** Frames sealed or opened so far. */
  get counter(): number {
    return this.#counter;
  }

  /** Starts the next frame. */
  sealStart(_header: Uint8Array): void {
    this.#counter++;
  }

  /** Copies the part as it is. */
  sealPart(plaintext: Uint8Array, out: Uint8Array): void {
    if (out.buffer !== plaintext.buffer || out.byteOffset !== plaintext.byteOffset) {
      copyInto(out, plaintext);
    }
  }

  /** Writes nothing: there is no tag. */
  sealEnd(_tag: Uint8Array): void {}

  /** Returns `sealed` itself: it is the plaintext. */
  open(sealed: Uint8Array, _header: Uint8Array): Uint8Array {
    this.#counter++;
    return sealed;
  }
}

/**
 * The suite of {@linkcode NullCipher}: ignores the keys.
 *
 * @example
 * ```ts
 * import { nullCipherSuite } from "./null_cipher.ts";
 * const cipher = await nullCipherSuite.create(new Uint8Array(32));
 * console.log(cipher.sync, cipher.tagBytes); // true 0
 * ```
 */
export const nullCipherSuite: CipherSuite<NullCipher> = {
  name: "none",
  tagBytes: 0,
  create: () => Promise.resolve(new NullCipher()),
};
