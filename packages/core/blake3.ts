/**
 * BLAKE3-256, from the fastest implementation that loads here: a native addon
 * (`@napi-rs/blake-hash`, SIMD, ~8x the WebAssembly one on these machines), else hash-wasm's
 * WebAssembly build, which runs everywhere. Both give the same digests; which one runs is reported
 * (`native` or `wasm`), and the native one needs `--allow-ffi`.
 *
 * @module
 */
import { createBLAKE3 } from "hash-wasm";

/** A BLAKE3-256 hasher on the calling thread. */
export interface Blake3 {
  /** Which implementation runs. */
  readonly kind: "native" | "wasm";
  /** The 32-byte digest of `bytes` (a view of shared memory too). */
  digest(bytes: Uint8Array): Uint8Array;
}

let loading: Promise<Blake3> | null = null;

/**
 * The hasher of this thread, loaded once: native when the addon loads, else WebAssembly. With
 * `prefer: "wasm"`, the WebAssembly one (for tests that compare the two).
 *
 * @example
 * ```ts
 * import { loadBlake3 } from "./blake3.ts";
 * const blake3 = await loadBlake3();
 * console.log(blake3.kind, blake3.digest(new Uint8Array(0)).length); // e.g. "native 32"
 * ```
 */
export function loadBlake3(prefer?: "wasm"): Promise<Blake3> {
  if (prefer === "wasm") return wasmBlake3();
  return loading ??= nativeBlake3().then((native) => native ?? wasmBlake3());
}

async function nativeBlake3(): Promise<Blake3 | null> {
  // Asked first: without the permission, loading an addon would prompt on a terminal.
  if (Deno.permissions.querySync?.({ name: "ffi" }).state !== "granted") return null;
  try {
    const addon = await import("@napi-rs/blake-hash");
    const hasher = new addon.Blake3Hasher();
    return {
      kind: "native",
      digest(bytes) {
        hasher.reset();
        hasher.update(bytes as Parameters<typeof hasher.update>[0]);
        const digest = hasher.digestBuffer();
        return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
      },
    };
  } catch {
    return null; // no addon for this platform, or a compiled binary without it
  }
}

async function wasmBlake3(): Promise<Blake3> {
  const hasher = await createBLAKE3();
  return {
    kind: "wasm",
    digest(bytes) {
      hasher.init();
      hasher.update(bytes);
      return hasher.digest("binary");
    },
  };
}
