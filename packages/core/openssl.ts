/**
 * AES-256-GCM through OpenSSL's libcrypto, called with `Deno.dlopen`: ~5x Web Crypto's speed on
 * these machines, and synchronous in the calling thread, so a connection worker seals and opens a
 * frame without handing it to a thread pool and back (docs/ARCHITECTURE.md, "Encryption"). The
 * bytes are exactly those of Web Crypto's AES-256-GCM: the wire does not change.
 *
 * Loading needs `--allow-ffi` and a libcrypto of OpenSSL 3 (`libcrypto.so.3` on Linux, the usual
 * names on macOS and Windows); {@linkcode loadLibcrypto} returns null when either is missing, and
 * callers fall back to Web Crypto. Key material never leaves the EVP context it was given to, and
 * is never in an error message.
 *
 * @module
 */

/** The library names tried, in order, on each OS. */
const CANDIDATES: Record<string, string[]> = {
  linux: ["libcrypto.so.3"],
  darwin: [
    "libcrypto.3.dylib",
    "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
    "/usr/local/opt/openssl@3/lib/libcrypto.3.dylib",
  ],
  windows: ["libcrypto-3-x64.dll", "libcrypto-3.dll"],
};

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
const NONCE_BYTES = 12;
/** Bytes of the tag at the end of every sealed message. */
export const TAG_BYTES = 16;

/** An EVP call failed: OpenSSL could not do what it was asked (not a bad frame). */
export class OpenSslError extends Error {
  override name = "OpenSslError";
}

let loaded: { library: Libcrypto; path: string } | null | undefined;

/**
 * libcrypto, opened once per thread; null when it cannot be (no `--allow-ffi`, no OpenSSL 3 found).
 *
 * @example
 * ```ts
 * import { loadLibcrypto } from "./openssl.ts";
 * const libcrypto = loadLibcrypto();
 * console.log(libcrypto === null ? "webcrypto" : `openssl (${libcrypto.path})`);
 * ```
 */
export function loadLibcrypto(): { path: string } | null {
  if (loaded !== undefined) return loaded && { path: loaded.path };
  loaded = null;
  // Asked first: without the permission, dlopen would prompt on a terminal instead of failing.
  if (Deno.permissions.querySync?.({ name: "ffi" }).state !== "granted") return null;
  for (const path of CANDIDATES[Deno.build.os] ?? []) {
    try {
      const library = Deno.dlopen(path, SYMBOLS).symbols;
      loaded = { library, path };
      return { path };
    } catch {
      // no such library here: try the next, then fall back
    }
  }
  return null;
}

/**
 * One direction of AES-256-GCM with its key set once: each call gives only the nonce. Seals and
 * opens in place or into any buffer, shared memory included, synchronously.
 *
 * @example
 * ```ts
 * import { AesGcm, loadLibcrypto } from "./openssl.ts";
 * if (loadLibcrypto()) {
 *   const key = new Uint8Array(32), nonce = new Uint8Array(12), header = new Uint8Array(4);
 *   const sealer = AesGcm.create(key, "seal")!;
 *   const opener = AesGcm.create(key, "open")!;
 *   const plain = new TextEncoder().encode("hello");
 *   const sealed = new Uint8Array(plain.length + 16);
 *   sealer.seal(nonce, header, plain, sealed);
 *   const opened = new Uint8Array(plain.length);
 *   console.log(opener.open(nonce, header, sealed, opened)); // true
 *   sealer.free();
 *   opener.free();
 * }
 * ```
 */
export class AesGcm {
  readonly #lib: Libcrypto;
  #ctx: Deno.PointerValue;
  readonly #direction: "seal" | "open";
  readonly #outLength = new Int32Array(1);
  readonly #tag = new Uint8Array(TAG_BYTES);

  private constructor(lib: Libcrypto, ctx: Deno.PointerObject, direction: "seal" | "open") {
    this.#lib = lib;
    this.#ctx = ctx;
    this.#direction = direction;
  }

  /** A context keyed with `key` (32 bytes) for one direction; null when libcrypto is not loaded. */
  static create(key: Uint8Array, direction: "seal" | "open"): AesGcm | null {
    const lib = loadLibcrypto() && loaded!.library;
    if (!lib) return null;
    if (key.length !== KEY_BYTES) throw new RangeError(`an AES-256 key has ${KEY_BYTES} bytes`);
    const ctx = lib.EVP_CIPHER_CTX_new();
    if (ctx === null) throw new OpenSslError("EVP_CIPHER_CTX_new failed: out of memory?");
    const init = direction === "seal" ? lib.EVP_EncryptInit_ex : lib.EVP_DecryptInit_ex;
    if (init(ctx, lib.EVP_aes_256_gcm(), null, key as BufferSource, null) !== 1) {
      lib.EVP_CIPHER_CTX_free(ctx);
      throw new OpenSslError(`AES-256-GCM ${direction} init failed`);
    }
    return new AesGcm(lib, ctx, direction);
  }

  /**
   * Seals `plain` under `nonce` (12 bytes) with `aad` as additional data into `out`, which must
   * hold `plain.length + 16` bytes: the ciphertext, then the tag. `out` may be `plain` itself
   * (with room for the tag after it).
   */
  seal(nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array, out: Uint8Array): void {
    const lib = this.#lib;
    const ctx = this.#context("seal", nonce, out.length, plain.length + TAG_BYTES);
    const length = this.#outLength;
    this.#check(lib.EVP_EncryptInit_ex(ctx, null, null, null, nonce as BufferSource), "nonce");
    this.#check(lib.EVP_EncryptUpdate(ctx, null, length, aad as BufferSource, aad.length), "aad");
    this.#check(
      lib.EVP_EncryptUpdate(ctx, out as BufferSource, length, plain as BufferSource, plain.length),
      "encrypt",
    );
    // GCM is a stream mode: every byte comes out of Update, Final adds none.
    this.#check(lib.EVP_EncryptFinal_ex(ctx, this.#tag, length), "final");
    this.#check(lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, this.#tag), "tag");
    out.set(this.#tag, plain.length);
  }

  /**
   * Opens `sealed` (ciphertext then 16-byte tag) under `nonce` with `aad` into `out` (at least
   * `sealed.length - 16` bytes; it may be `sealed` itself). False if the tag does not verify:
   * altered, replayed or misplaced; `out` then holds nothing to use.
   */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array): boolean {
    if (sealed.length < TAG_BYTES) return false;
    const lib = this.#lib;
    const bodyLength = sealed.length - TAG_BYTES;
    const ctx = this.#context("open", nonce, out.length, bodyLength);
    const length = this.#outLength;
    this.#tag.set(sealed.subarray(bodyLength));
    this.#check(lib.EVP_DecryptInit_ex(ctx, null, null, null, nonce as BufferSource), "nonce");
    this.#check(lib.EVP_DecryptUpdate(ctx, null, length, aad as BufferSource, aad.length), "aad");
    this.#check(
      lib.EVP_DecryptUpdate(
        ctx,
        out as BufferSource,
        length,
        sealed.subarray(0, bodyLength) as BufferSource,
        bodyLength,
      ),
      "decrypt",
    );
    this.#check(lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, this.#tag), "tag");
    return lib.EVP_DecryptFinal_ex(ctx, this.#tag, length) === 1;
  }

  /** Frees the context, which holds the key. Calls after this throw. */
  free(): void {
    if (this.#ctx === null) return;
    this.#lib.EVP_CIPHER_CTX_free(this.#ctx);
    this.#ctx = null;
  }

  #context(
    direction: "seal" | "open",
    nonce: Uint8Array,
    room: number,
    needed: number,
  ): Deno.PointerObject {
    if (this.#ctx === null) throw new OpenSslError("this AES-GCM context was freed");
    if (direction !== this.#direction) {
      throw new OpenSslError(`this AES-GCM context was made to ${this.#direction}`);
    }
    if (nonce.length !== NONCE_BYTES) throw new RangeError(`a nonce has ${NONCE_BYTES} bytes`);
    if (room < needed) throw new RangeError(`${needed} bytes do not fit in ${room}`);
    return this.#ctx;
  }

  #check(result: number, step: string): void {
    if (result !== 1) throw new OpenSslError(`AES-256-GCM ${this.#direction}: ${step} failed`);
  }
}
