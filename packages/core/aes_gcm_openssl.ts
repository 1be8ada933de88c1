/**
 * AES-256-GCM through OpenSSL's libcrypto, called with `Deno.dlopen`: ~5x Web Crypto's speed on
 * these machines, and synchronous in the calling thread, so a connection worker seals and opens a
 * frame without handing it to a thread pool and back (docs/ARCHITECTURE.md, "Encryption"). The
 * bytes are exactly those of `aes_gcm_webcrypto.ts`: the wire does not change, and a peer on one
 * talks to a peer on the other.
 *
 * Loading needs `--allow-ffi` and a libcrypto of OpenSSL 3 (`libcrypto.so.3` on Linux, the usual
 * names on macOS and Windows); {@linkcode loadLibcrypto} returns null when either is missing, and
 * callers fall back to Web Crypto. Key material never leaves the EVP context it was given to, and
 * is never in an error message.
 *
 * @module
 */
import {
  type CipherSuite,
  decryptFailed,
  FrameNonces,
  type SyncCipher,
  TAG_BYTES,
} from "./cipher.ts";
import { openLibcrypto } from "./libcrypto.ts";

const SYMBOLS = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_DecryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_DecryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const;

type Libcrypto = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;
const KEY_BYTES = 32;

/** An EVP call failed: OpenSSL could not do what it was asked (a bad frame is a `ProtocolError`). */
export class OpenSslError extends Error {
  override name = "OpenSslError";
}

let loaded: { library: Libcrypto; path: string } | null | undefined;

/**
 * libcrypto, opened once per thread; null when it cannot be (no `--allow-ffi`, no OpenSSL 3 found).
 *
 * @example
 * ```ts
 * import { loadLibcrypto } from "./aes_gcm_openssl.ts";
 * const libcrypto = loadLibcrypto();
 * console.log(libcrypto === null ? "webcrypto" : `openssl (${libcrypto.path})`);
 * ```
 */
export function loadLibcrypto(): { path: string } | null {
  if (loaded === undefined) loaded = openLibcrypto(SYMBOLS);
  return loaded && { path: loaded.path };
}

/**
 * AES-256-GCM over the frames of one direction through OpenSSL, keyed once: each frame gives
 * only its nonce (the frame's count, see {@linkcode FrameNonces}) and its 4-byte header as the
 * additional data. Seals and opens synchronously, into or out of any buffer, shared memory
 * included: the outbox seals a frame straight into the outbound ring, part by part, and the
 * inbound layer opens a frame in place in the inbound ring.
 *
 * @example
 * ```ts
 * import { OpenSslAesGcm } from "./aes_gcm_openssl.ts";
 * const key = new Uint8Array(32);
 * const sealer = OpenSslAesGcm.fromKey(key), opener = OpenSslAesGcm.fromKey(key);
 * if (sealer && opener) {
 *   const header = new Uint8Array([0, 0, 0, 19]);
 *   const frame = new Uint8Array(19);
 *   sealer.sealStart(header);
 *   sealer.sealPart(new Uint8Array([1, 2, 3]), frame.subarray(0, 3));
 *   sealer.sealEnd(frame.subarray(3));
 *   console.log(opener.open(frame, header)); // [1, 2, 3]
 *   sealer.close();
 *   opener.close();
 * }
 * ```
 */
export class OpenSslAesGcm implements SyncCipher {
  /** Works on the calling thread. */
  readonly sync: true = true;
  /** The 16-byte GCM tag. */
  readonly tagBytes: number = TAG_BYTES;
  readonly #lib: Libcrypto;
  /** Two contexts with the same key: one seals, one opens (OpenSSL keys a context one way). */
  #sealing: Deno.PointerValue;
  #opening: Deno.PointerValue;
  readonly #sealNonces: FrameNonces;
  readonly #openNonces: FrameNonces;
  readonly #length = new Int32Array(1);
  readonly #tag = new Uint8Array(TAG_BYTES);
  /** Frames opened into this buffer when they are not to be opened in place. */
  #scratch = new Uint8Array(0);

  private constructor(
    lib: Libcrypto,
    sealing: Deno.PointerObject,
    opening: Deno.PointerObject,
    first: number,
  ) {
    this.#sealNonces = new FrameNonces(first);
    this.#openNonces = new FrameNonces(first);
    this.#lib = lib;
    this.#sealing = sealing;
    this.#opening = opening;
  }

  /**
   * A cipher keyed with the 32 bytes of `key`, which it does not keep (OpenSSL copies it into its
   * contexts), counting frames from `first` (0 for a fresh key); null when libcrypto cannot be
   * loaded here.
   */
  static fromKey(key: Uint8Array, first = 0): OpenSslAesGcm | null {
    if (!loadLibcrypto()) return null;
    const lib = loaded!.library;
    if (key.length !== KEY_BYTES) throw new RangeError(`an AES-256 key has ${KEY_BYTES} bytes`);
    const [sealing, opening] = [lib.EVP_EncryptInit_ex, lib.EVP_DecryptInit_ex].map((init) => {
      const ctx = lib.EVP_CIPHER_CTX_new();
      if (ctx === null) throw new OpenSslError("EVP_CIPHER_CTX_new failed: out of memory?");
      if (init(ctx, lib.EVP_aes_256_gcm(), null, key as BufferSource, null) !== 1) {
        lib.EVP_CIPHER_CTX_free(ctx);
        throw new OpenSslError("AES-256-GCM: setting the key failed");
      }
      return ctx;
    });
    return new OpenSslAesGcm(lib, sealing, opening, first);
  }

  /** Frames sealed so far (the counter of the next frame sent). */
  get counter(): number {
    return this.#sealNonces.counter;
  }

  /** Starts sealing the next frame: takes its nonce, and its header as the additional data. */
  sealStart(header: Uint8Array): void {
    const ctx = this.#live(this.#sealing);
    const lib = this.#lib;
    const nonce = this.#sealNonces.next();
    check(lib.EVP_EncryptInit_ex(ctx, null, null, null, nonce), "seal: nonce");
    check(
      lib.EVP_EncryptUpdate(ctx, null, this.#length, header as BufferSource, header.length),
      "seal: header",
    );
  }

  /** Seals the frame's next bytes into `out`, as long as `plaintext` (or `plaintext` itself). */
  sealPart(plaintext: Uint8Array, out: Uint8Array): void {
    if (out.length !== plaintext.length) {
      throw new RangeError("a sealed part is as long as its plaintext");
    }
    if (plaintext.length === 0) return;
    const ctx = this.#live(this.#sealing);
    check(
      this.#lib.EVP_EncryptUpdate(
        ctx,
        out as BufferSource,
        this.#length,
        plaintext as BufferSource,
        plaintext.length,
      ),
      "seal",
    );
  }

  /** Ends the frame: writes its 16-byte tag into `tag`. */
  sealEnd(tag: Uint8Array): void {
    const ctx = this.#live(this.#sealing);
    const lib = this.#lib;
    // GCM is a stream mode: every byte came out of Update, Final adds none.
    check(lib.EVP_EncryptFinal_ex(ctx, this.#tag, this.#length), "seal: final");
    check(lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, this.#tag), "seal: tag");
    tag.set(this.#tag);
  }

  /**
   * Opens the next frame's body (ciphertext, then tag), a view of the inbound ring or any buffer;
   * the plaintext is a view of the same bytes, opened in place (valid until the ring reuses
   * them). Throws a `decrypt-failed` `ProtocolError` if the tag does not verify: altered,
   * replayed, reordered, or after a dropped frame.
   */
  open(sealed: Uint8Array, header: Uint8Array): Uint8Array {
    const counter = this.#openNonces.counter;
    const nonce = this.#openNonces.next();
    if (sealed.length < TAG_BYTES) throw decryptFailed(counter);
    const ctx = this.#live(this.#opening);
    const lib = this.#lib;
    const length = sealed.length - TAG_BYTES;
    const body = sealed.subarray(0, length);
    this.#tag.set(sealed.subarray(length));
    check(lib.EVP_DecryptInit_ex(ctx, null, null, null, nonce), "open: nonce");
    check(
      lib.EVP_DecryptUpdate(ctx, null, this.#length, header as BufferSource, header.length),
      "open: header",
    );
    if (length > 0) {
      check(
        lib.EVP_DecryptUpdate(
          ctx,
          body as BufferSource,
          this.#length,
          body as BufferSource,
          length,
        ),
        "open",
      );
    }
    check(lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, this.#tag), "open: tag");
    if (lib.EVP_DecryptFinal_ex(ctx, this.#tag, this.#length) !== 1) throw decryptFailed(counter);
    return body;
  }

  /** Frees both contexts, and the key with them. Calls after this throw. */
  close(): void {
    for (const ctx of [this.#sealing, this.#opening]) {
      if (ctx !== null) this.#lib.EVP_CIPHER_CTX_free(ctx);
    }
    this.#sealing = null;
    this.#opening = null;
  }

  #live(ctx: Deno.PointerValue): Deno.PointerObject {
    if (ctx === null) throw new OpenSslError("this AES-GCM cipher was closed");
    return ctx;
  }
}

function check(result: number, step: string): void {
  if (result !== 1) throw new OpenSslError(`AES-256-GCM ${step} failed`);
}

/**
 * The suite of {@linkcode OpenSslAesGcm}, or null when libcrypto cannot be loaded here (no
 * `--allow-ffi`, no OpenSSL 3): then Web Crypto's.
 *
 * @example
 * ```ts
 * import { openSslAesGcm } from "./aes_gcm_openssl.ts";
 * const suite = openSslAesGcm();
 * console.log(suite?.name ?? "webcrypto"); // "openssl" where it loads
 * ```
 */
export function openSslAesGcm(): CipherSuite<OpenSslAesGcm> | null {
  if (!loadLibcrypto()) return null;
  return {
    name: "openssl",
    tagBytes: TAG_BYTES,
    create: (key) => Promise.resolve(OpenSslAesGcm.fromKey(key)!),
  };
}
