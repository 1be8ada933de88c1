/**
 * The files and folders this peer has pieces of: whole ones it offers or has fetched, and partial
 * ones being fetched. For each: where its bytes are, which pieces are here, and which peers asked
 * about it (they hear of every piece gained).
 *
 * @module
 */
import type { FileRange } from "@meshtalk/core";
import { Bitfield } from "./bitfield.ts";
import type { Downloader } from "./downloader.ts";
import { layoutOf, pieceCount } from "./layout.ts";
import type { Manifest } from "./manifest.ts";
import { entryPath } from "./save.ts";
import { pieceKey } from "./wire.ts";

/**
 * Where the bytes of a piece are, and the `file` its `piece` message carries (see `pieceKey`):
 * `offset` is the offset in that file.
 *
 * @example
 * ```ts
 * import type { PieceSource } from "./local_files.ts";
 * const source: PieceSource = { key: "ab".repeat(32), path: "/srv/a.txt", offset: 16384, length: 3616 };
 * ```
 */
export interface PieceSource extends FileRange {
  key: string;
}

/**
 * A file this peer has pieces of: all of them, or some while it is being fetched.
 *
 * @example
 * ```ts
 * import { Bitfield } from "./bitfield.ts";
 * import type { LocalFile } from "./local_files.ts";
 * const manifest = { name: "a.txt", size: 1, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * const file: LocalFile = { manifest, have: Bitfield.full(1), path: "/srv/a.txt" };
 * ```
 */
export interface LocalFile {
  manifest: Manifest;
  /** The pieces here. */
  have: Bitfield;
  /**
   * Where its pieces are served from: the offered file or folder, the saved copy or the partial
   * file (or folder).
   */
  path: string;
  /** Set while it is being fetched. */
  downloader?: Downloader;
}

/**
 * Local files by root, and the peers interested in each.
 *
 * @example
 * ```ts
 * import { LocalFiles } from "./local_files.ts";
 * const files = new LocalFiles();
 * const manifest = { name: "a.txt", size: 20_000, pieceSize: 16384, pieces: new Uint8Array(64), root: "ab".repeat(32) };
 * files.seed(manifest, "/srv/a.txt");
 * console.log(files.locate(manifest.root, 1)?.offset); // 16384
 * console.log(files.want(manifest.root, "ada")); // Uint8Array(1) [ 192 ]
 * console.log([...files.interested(manifest.root)]); // ["ada"]
 * ```
 */
export class LocalFiles {
  readonly #files = new Map<string, LocalFile>();
  readonly #interested = new Map<string, Set<string>>();

  /** The local file of root `root`. */
  get(root: string): LocalFile | undefined {
    return this.#files.get(root);
  }

  /** Every local file. */
  values(): IterableIterator<LocalFile> {
    return this.#files.values();
  }

  /** Adds (or replaces) a local file. */
  add(file: LocalFile): LocalFile {
    this.#files.set(file.manifest.root, file);
    return file;
  }

  /** A whole copy of `manifest` is at `path`. */
  seed(manifest: Manifest, path: string): LocalFile {
    return this.add({ manifest, have: Bitfield.full(pieceCount(manifest)), path });
  }

  /** Forgets a file, and who was interested in it. */
  delete(root: string): void {
    this.#files.delete(root);
    this.#interested.delete(root);
  }

  /** Where the bytes of `piece` of `file` (a root) are, or null when they are not here. */
  locate(file: string, piece: number): PieceSource | null {
    const local = this.#files.get(file);
    if (!local || piece >= local.have.size || !local.have.has(piece)) return null;
    const { manifest } = local;
    const { entry, offset, length } = layoutOf(manifest).place(piece);
    const path = entryPath(local.path, manifest, entry);
    return { key: pieceKey(file, manifest.files ? entry : null), path, offset, length };
  }

  /**
   * `peer` asked about `file`: if it is here, `peer` hears of every piece gained from now on.
   * Returns the bitfield of the pieces here to tell it, or null when there is none. Interest is
   * kept only in files that are here: anything else costs nothing.
   */
  want(file: string, peer: string): Uint8Array | null {
    const local = this.#files.get(file);
    if (!local) return null;
    let peers = this.#interested.get(file);
    if (!peers) this.#interested.set(file, peers = new Set());
    peers.add(peer);
    return local.have.count > 0 ? local.have.bytes : null;
  }

  /** The peers that asked about `file`. */
  interested(file: string): Iterable<string> {
    return this.#interested.get(file) ?? [];
  }

  /** `peer` left: it is interested in nothing any more. */
  forget(peer: string): void {
    for (const peers of this.#interested.values()) peers.delete(peer);
  }
}
