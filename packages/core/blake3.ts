/**
 * BLAKE3-256, from the fastest implementation that loads here: a native addon
 * (`@napi-rs/blake-hash` 1.3.4, SIMD, ~8x the WebAssembly one on these machines), else hash-wasm's
 * WebAssembly build, which runs everywhere. Both give the same digests; which one runs is reported
 * (`native` or `wasm`), and the native one needs `--allow-ffi`.
 *
 * @module
 */
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

/**
 * The addon's package for each platform it is built for, fetched on first use (only this
 * platform's). Its main package's entry point tells the platforms apart with calls that need
 * `--allow-sys` (a full system report, for glibc against musl); this platform's binary is loaded
 * directly instead, which needs only `--allow-ffi`.
 */
const ADDONS: Record<string, { fetch: () => Promise<unknown>; manifest: string; file: string }> = {
  "x86_64-unknown-linux-gnu": {
    fetch: () => import("@napi-rs/blake-hash-linux-x64-gnu/package.json", JSON_MODULE),
    manifest: "@napi-rs/blake-hash-linux-x64-gnu/package.json",
    file: "blake.linux-x64-gnu.node",
  },
  "aarch64-unknown-linux-gnu": {
    fetch: () => import("@napi-rs/blake-hash-linux-arm64-gnu/package.json", JSON_MODULE),
    manifest: "@napi-rs/blake-hash-linux-arm64-gnu/package.json",
    file: "blake.linux-arm64-gnu.node",
  },
  "x86_64-apple-darwin": {
    fetch: () => import("@napi-rs/blake-hash-darwin-x64/package.json", JSON_MODULE),
    manifest: "@napi-rs/blake-hash-darwin-x64/package.json",
    file: "blake.darwin-x64.node",
  },
  "aarch64-apple-darwin": {
    fetch: () => import("@napi-rs/blake-hash-darwin-arm64/package.json", JSON_MODULE),
    manifest: "@napi-rs/blake-hash-darwin-arm64/package.json",
    file: "blake.darwin-arm64.node",
  },
  "x86_64-pc-windows-msvc": {
    fetch: () => import("@napi-rs/blake-hash-win32-x64-msvc/package.json", JSON_MODULE),
    manifest: "@napi-rs/blake-hash-win32-x64-msvc/package.json",
    file: "blake.win32-x64-msvc.node",
  },
};

const JSON_MODULE = { with: { type: "json" } } as const;

interface Blake3Hasher {
  reset(): void;
  update(input: Uint8Array): void;
  digestBuffer(): Uint8Array;
}

async function nativeBlake3(): Promise<Blake3 | null> {
  const addon = ADDONS[Deno.build.target];
  // Asked first: without the permission, loading an addon would prompt on a terminal.
  if (!addon || Deno.permissions.querySync?.({ name: "ffi" }).state !== "granted") return null;
  try {
    await addon.fetch();
    const { createRequire } = await import("node:module");
    const binary = new URL(addon.file, import.meta.resolve(addon.manifest));
    const { Blake3Hasher } = createRequire(binary)(binary.pathname) as {
      Blake3Hasher: new () => Blake3Hasher;
    };
    const hasher = new Blake3Hasher();
    return {
      kind: "native",
      digest(bytes) {
        hasher.reset();
        hasher.update(bytes);
        const digest = hasher.digestBuffer();
        return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
      },
    };
  } catch {
    return null; // not fetched (offline), or a compiled binary without it: WebAssembly then
  }
}

async function wasmBlake3(): Promise<Blake3> {
  // Loaded only where it runs: a peer with the native addon never holds it.
  const { createBLAKE3 } = await import("hash-wasm");
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
