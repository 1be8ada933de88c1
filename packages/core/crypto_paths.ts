/**
 * Which implementation of each primitive runs in this process, for banners and `ready` events:
 * AES-256-GCM through OpenSSL or Web Crypto, BLAKE3 native or WebAssembly. Both of each give the
 * same bytes; the fast ones need `--allow-ffi` (docs/SECURITY.md says what that grants).
 *
 * @module
 */
import { loadLibcrypto } from "./aes_gcm_openssl.ts";
import { loadBlake3 } from "./blake3.ts";

/**
 * Which AES-256-GCM every connection's worker uses: `openssl` where libcrypto loads, else
 * `webcrypto`.
 *
 * @example
 * ```ts
 * import { aeadPath } from "@meshtalk/core";
 * console.log(`crypto: ${aeadPath()}`); // "crypto: openssl" with --allow-ffi on Linux
 * ```
 */
export function aeadPath(): "openssl" | "webcrypto" {
  return loadLibcrypto() ? "openssl" : "webcrypto";
}

/**
 * Which BLAKE3 hashes pieces: `native` where the addon loads, else `wasm`. It loads it on this
 * thread to find out: ask only where files are hashed anyway.
 *
 * @example
 * ```ts
 * import { blake3Path } from "@meshtalk/core";
 * console.log(`blake3: ${await blake3Path()}`); // "blake3: native" with --allow-ffi
 * ```
 */
export async function blake3Path(): Promise<"native" | "wasm"> {
  return (await loadBlake3()).kind;
}
