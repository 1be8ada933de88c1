/**
 * AES-256-GCM through Web Crypto: the cipher that runs everywhere. Each call is handed to another
 * thread and copies its input when made, so the outbox keeps several frames being sealed at once.
 *
 * @module
 */
import {
  type AsyncCipher,
  type CipherSuite,
  decryptFailed,
  FrameNonces,
  TAG_BYTES,
} from "./cipher.ts";

/**
 * AES-256-GCM over the frames of one direction, through `crypto.subtle`: the nonce of frame n
 * is n (see {@linkcode FrameNonces}), the 4-byte frame header is the additional data.
 *
 * @example
 * ```ts
 * import { WebCryptoAesGcm } from "./aes_gcm_webcrypto.ts";
 * const key = new Uint8Array(32);
 * const sender = await WebCryptoAesGcm.fromKey(key);
 * const receiver = await WebCryptoAesGcm.fromKey(key);
 * const header = new Uint8Array([0, 0, 0, 17]);
 * const sealed = await sender.seal(new Uint8Array([1]), header); // 17 bytes
 * console.log(await receiver.open(sealed, header)); // [1]
 * ```
 */
export class WebCryptoAesGcm implements AsyncCipher {
  /** Works on other threads. */
  readonly sync: false = false;
  /** The 16-byte GCM tag. */
  readonly tagBytes: number = TAG_BYTES;
  readonly #key: CryptoKey;
  readonly #nonces: FrameNonces;

  /** Wraps one direction's AES-GCM key; the counter starts at `first` (0 for a fresh key). */
  constructor(key: CryptoKey, first = 0) {
    this.#key = key;
    this.#nonces = new FrameNonces(first);
  }

  /**
   * A cipher from a raw 32-byte key, which it does not keep (Web Crypto copies it), counting
   * frames from `first`.
   */
  static async fromKey(key: Uint8Array, first = 0): Promise<WebCryptoAesGcm> {
    const imported = await crypto.subtle.importKey("raw", key as BufferSource, "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    return new WebCryptoAesGcm(imported, first);
  }

  /** Frames sealed or opened so far: the counter of the next one. */
  get counter(): number {
    return this.#nonces.counter;
  }

  /**
   * Seals the next frame's body. The nonce is taken now, so calls may overlap: their results
   * belong on the wire in call order. `plaintext` and `header` are copied before this returns.
   */
  seal(plaintext: Uint8Array, header: Uint8Array): Promise<Uint8Array> {
    const iv = this.#nonces.next();
    return crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: header as BufferSource, tagLength: 128 },
      this.#key,
      plaintext as BufferSource,
    ).then((sealed) => new Uint8Array(sealed));
  }

  /**
   * Opens the next frame's body; rejects with a `decrypt-failed` `ProtocolError`. Calls may
   * overlap and are matched to counters in call order. `sealed` must not be a view of shared
   * memory (Web Crypto refuses those).
   */
  open(sealed: Uint8Array, header: Uint8Array): Promise<Uint8Array> {
    const counter = this.#nonces.counter;
    const iv = this.#nonces.next();
    return crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: header as BufferSource, tagLength: 128 },
      this.#key,
      sealed as BufferSource,
    ).then(
      (plain) => new Uint8Array(plain),
      () => {
        throw decryptFailed(counter);
      },
    );
  }
}

/**
 * The suite of {@linkcode WebCryptoAesGcm}: AES-256-GCM wherever Web Crypto runs.
 *
 * @example
 * ```ts
 * import { webCryptoAesGcm } from "./aes_gcm_webcrypto.ts";
 * const cipher = await webCryptoAesGcm.create(new Uint8Array(32));
 * console.log(cipher.tagBytes); // 16
 * ```
 */
export const webCryptoAesGcm: CipherSuite<WebCryptoAesGcm> = {
  name: "webcrypto",
  tagBytes: TAG_BYTES,
  create: (key) => WebCryptoAesGcm.fromKey(key),
};
