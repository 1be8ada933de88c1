/**
 * The catalog: every file this peer has heard of, who signed its manifest, which peers hold it,
 * and which (file, holder) announcements were handled already. Announcements cost memory here
 * and cost nothing to send, so every part of it is capped.
 *
 * @module
 */
import { BoundedSet } from "@meshtalk/core";
import type { Manifest, ManifestSignature } from "./manifest.ts";

/**
 * A file the catalog knows.
 *
 * @example
 * ```ts
 * import type { KnownFile } from "./catalog.ts";
 * const manifest = { name: "a.txt", size: 1, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * const signature = { origin: "them", key: new Uint8Array(32), sig: new Uint8Array(64) };
 * const file: KnownFile = { manifest, signature, holders: new Map([["them", "10.0.0.7:7000"]]) };
 * ```
 */
export interface KnownFile {
  manifest: Manifest;
  /** The first announcer's signature; later announcers pass it on unchanged. */
  signature: ManifestSignature;
  /** Peers that hold the whole file, by id, with where they listen when known; oldest first. */
  holders: ReadonlyMap<string, string | null>;
}

/**
 * The caps of a {@linkcode Catalog}.
 *
 * @example
 * ```ts
 * import { Catalog, type CatalogLimits } from "./catalog.ts";
 * const limits: CatalogLimits = { maxFiles: 100, maxHolders: 4 };
 * const catalog = new Catalog("me", limits);
 * ```
 */
export interface CatalogLimits {
  /** Most files known (default 1,000). */
  maxFiles?: number;
  /**
   * Most bytes of manifests kept for files and folders announced by others: their piece hashes
   * and a folder's paths, 8 bytes more a file for its size (default 64 MiB).
   */
  maxBytes?: number;
  /** Holders remembered per file (default 8). */
  maxHolders?: number;
  /** (File, holder) announcements remembered as handled (default 10,000). */
  maxSeen?: number;
}

/**
 * Known files and their holders. This peer, once it holds a file, stays among its holders, and
 * the files it offers are kept whatever the budgets say.
 *
 * @example
 * ```ts
 * import { Catalog } from "./catalog.ts";
 * const catalog = new Catalog("me");
 * const manifest = { name: "a.txt", size: 1, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * const signature = { origin: "them", key: new Uint8Array(32), sig: new Uint8Array(64) };
 * catalog.add(manifest, signature, "them", "10.0.0.7:7000");
 * console.log(catalog.get(manifest.root)?.holders.get("them")); // "10.0.0.7:7000"
 * ```
 */
export class Catalog {
  readonly #self: string;
  readonly #files = new Map<
    string,
    { manifest: Manifest; signature: ManifestSignature; holders: Map<string, string | null> }
  >();
  readonly #seen: BoundedSet<string>;
  readonly #maxFiles: number;
  readonly #maxBytes: number;
  readonly #maxHolders: number;
  #bytes = 0;

  /** An empty catalog of the peer whose id is `self`. */
  constructor(self: string, limits: CatalogLimits = {}) {
    this.#self = self;
    this.#maxFiles = limits.maxFiles ?? 1000;
    this.#maxBytes = limits.maxBytes ?? 64 * 1024 * 1024;
    this.#maxHolders = limits.maxHolders ?? 8;
    this.#seen = new BoundedSet(limits.maxSeen ?? 10_000);
  }

  /** How many files are known. */
  get size(): number {
    return this.#files.size;
  }

  /** Bytes of manifests kept for files announced by others (see `CatalogLimits.maxBytes`). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The file whose root is `root`, if known. */
  get(root: string): KnownFile | undefined {
    return this.#files.get(root);
  }

  /** Every known file, in the order they became known. */
  files(): KnownFile[] {
    return [...this.#files.values()];
  }

  /**
   * Records that `holder` has the file of `manifest` (reachable at `address`, when known). A file
   * not known yet is kept with `signature` only while within the budgets, unless this peer is the
   * holder; returns false when it was not kept. A file known already keeps its first signature.
   */
  add(
    manifest: Manifest,
    signature: ManifestSignature,
    holder: string,
    address: string | null,
  ): boolean {
    let known = this.#files.get(manifest.root);
    if (!known) {
      if (holder !== this.#self) {
        if (this.#files.size >= this.#maxFiles || this.#bytes > this.#maxBytes) return false;
        this.#bytes += manifestBytes(manifest);
      }
      known = { manifest, signature, holders: new Map() };
      this.#files.set(manifest.root, known);
    }
    // The holders heard of last are kept (a map keeps insertion order).
    known.holders.delete(holder);
    known.holders.set(holder, address);
    if (known.holders.size > this.#maxHolders) {
      const oldest = [...known.holders.keys()].find((id) => id !== this.#self)!;
      known.holders.delete(oldest);
    }
    return true;
  }

  /**
   * The holder to name when telling a neighbour of a file: this peer if it holds it, else the
   * one heard of last.
   */
  holderToTell(root: string): [holder: string, address: string | null] | undefined {
    const holders = this.#files.get(root)?.holders;
    if (!holders) return undefined;
    return holders.has(this.#self) ? [this.#self, null] : [...holders].at(-1);
  }

  /** True when an announcement that `holder` has the file `root` was handled already. */
  seen(root: string, holder: string): boolean {
    return this.#seen.has(`${root}/${holder}`);
  }

  /** Remembers that an announcement that `holder` has the file `root` was handled. */
  markSeen(root: string, holder: string): void {
    this.#seen.add(`${root}/${holder}`);
  }
}

/** What a manifest costs to keep: its piece hashes, and a folder's paths and sizes. */
function manifestBytes(manifest: Manifest): number {
  let bytes = manifest.pieces.length;
  for (const file of manifest.files ?? []) bytes += file.path.length + 8;
  return bytes;
}
