/**
 * OpenSSL's libcrypto through `Deno.dlopen`, for the primitives where it beats the runtime's own:
 * AES-256-GCM (`aes_gcm_openssl.ts`) and Ed25519 checks (`ed25519.ts`). Opening it needs
 * `--allow-ffi` (asked first, so that a terminal is never prompted) and an OpenSSL 3 library;
 * without either, callers fall back to Web Crypto or `node:crypto`.
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

/**
 * libcrypto with the functions `symbols` declares, or null when it cannot be opened here (no
 * `--allow-ffi`, no OpenSSL 3 found). Each call opens it anew: callers keep what they get.
 *
 * @example
 * ```ts
 * import { openLibcrypto } from "./libcrypto.ts";
 * const opened = openLibcrypto({ OpenSSL_version_num: { parameters: [], result: "u64" } });
 * console.log(opened === null ? "no libcrypto" : `libcrypto at ${opened.path}`);
 * ```
 */
export function openLibcrypto<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): { library: Deno.DynamicLibrary<S>["symbols"]; path: string } | null {
  if (Deno.permissions.querySync?.({ name: "ffi" }).state !== "granted") return null;
  for (const path of CANDIDATES[Deno.build.os] ?? []) {
    try {
      return { library: Deno.dlopen(path, symbols).symbols, path };
    } catch {
      // no such library here (or not OpenSSL 3): try the next, then fall back
    }
  }
  return null;
}
