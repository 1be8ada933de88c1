/**
 * How a manifest's bytes are cut into pieces. A file is cut from its start into pieces of
 * `pieceSize` bytes, the last one maybe shorter. A folder is its files one after another, each
 * cut the same way from its own start: every file begins on a piece boundary, and a piece never
 * holds bytes of two files. So a folder's pieces are numbered, requested and verified exactly as
 * a file's are; only where each one lies differs.
 *
 * @module
 */
import type { FolderFile } from "./names.ts";

/**
 * The piece-numbering fields of a manifest (see `Manifest`).
 *
 * @example
 * ```ts
 * import type { PieceFields } from "./layout.ts";
 * const fields: PieceFields = { size: 20_000, pieceSize: 16384 };
 * ```
 */
export interface PieceFields {
  size: number;
  pieceSize: number;
  /** Set for a folder: its files, in order. */
  files?: readonly FolderFile[];
}

/**
 * One file of a layout: a folder's file, or the one file of a file's manifest (path "").
 *
 * @example
 * ```ts
 * import type { LayoutEntry } from "./layout.ts";
 * const entry: LayoutEntry = { path: "a.txt", size: 20_000, firstPiece: 0, pieceCount: 2 };
 * ```
 */
export interface LayoutEntry {
  path: string;
  size: number;
  /** The number of its first piece. */
  firstPiece: number;
  /** How many pieces it has (none for an empty file). */
  pieceCount: number;
}

/**
 * Where a piece lies: in which entry, at which offset of it, and how long it is.
 *
 * @example
 * ```ts
 * import type { PiecePlace } from "./layout.ts";
 * const place: PiecePlace = { entry: 1, offset: 16384, length: 3616 };
 * ```
 */
export interface PiecePlace {
  entry: number;
  offset: number;
  length: number;
}

/**
 * The pieces of a file or folder, and where each lies.
 *
 * @example
 * ```ts
 * import { Layout } from "./layout.ts";
 * const files = [{ path: "a", size: 20_000 }, { path: "b", size: 0 }, { path: "c", size: 5 }];
 * const layout = new Layout({ size: 20_005, pieceSize: 16384, files });
 * console.log(layout.pieceCount, layout.place(1), layout.place(2));
 * // 3 { entry: 0, offset: 16384, length: 3616 } { entry: 2, offset: 0, length: 5 }
 * ```
 */
export class Layout {
  readonly pieceSize: number;
  readonly pieceCount: number;
  readonly entries: readonly LayoutEntry[];
  /** True for a folder's layout. */
  readonly isFolder: boolean;
  /** The entries that have pieces, in order: searched by piece number. */
  readonly #withPieces: number[] = [];

  /** The layout of a manifest's fields. */
  constructor(fields: PieceFields) {
    this.pieceSize = fields.pieceSize;
    this.isFolder = fields.files !== undefined;
    const files = fields.files ?? [{ path: "", size: fields.size }];
    let firstPiece = 0;
    this.entries = files.map(({ path, size }, i) => {
      const pieceCount = Math.ceil(size / fields.pieceSize);
      if (pieceCount > 0) this.#withPieces.push(i);
      const entry = { path, size, firstPiece, pieceCount };
      firstPiece += pieceCount;
      return entry;
    });
    this.pieceCount = firstPiece;
  }

  /** Where piece `piece` lies; throws a `RangeError` for a piece the layout does not have. */
  place(piece: number): PiecePlace {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) {
      throw new RangeError(`no piece ${piece} of ${this.pieceCount}`);
    }
    let low = 0;
    let high = this.#withPieces.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.entries[this.#withPieces[middle]].firstPiece <= piece) low = middle;
      else high = middle - 1;
    }
    const entry = this.#withPieces[low];
    const { firstPiece, size } = this.entries[entry];
    const offset = (piece - firstPiece) * this.pieceSize;
    return { entry, offset, length: Math.min(this.pieceSize, size - offset) };
  }

  /** Bytes in piece `piece`. */
  pieceLength(piece: number): number {
    return this.place(piece).length;
  }
}

const layouts = new WeakMap<PieceFields, Layout>();

/**
 * The layout of `fields`, built once per manifest object.
 *
 * @example
 * ```ts
 * import { layoutOf } from "./layout.ts";
 * const manifest = { size: 5, pieceSize: 16384, files: [{ path: "a", size: 5 }] };
 * console.log(layoutOf(manifest) === layoutOf(manifest)); // true
 * ```
 */
export function layoutOf(fields: PieceFields): Layout {
  let layout = layouts.get(fields);
  if (!layout) layouts.set(fields, layout = new Layout(fields));
  return layout;
}

/**
 * Number of pieces of a file or folder.
 *
 * @example
 * ```ts
 * import { pieceCount } from "@meshtalk/files";
 * console.log(pieceCount({ size: 100_000, pieceSize: 16384 })); // 7
 * ```
 */
export function pieceCount(manifest: PieceFields): number {
  if (!manifest.files) return Math.ceil(manifest.size / manifest.pieceSize);
  return layoutOf(manifest).pieceCount;
}

/**
 * Bytes in piece `piece`.
 *
 * @example
 * ```ts
 * import { pieceLength } from "@meshtalk/files";
 * console.log(pieceLength({ size: 100_000, pieceSize: 16384 }, 6)); // 1696
 * ```
 */
export function pieceLength(manifest: PieceFields, piece: number): number {
  if (!manifest.files) {
    return Math.min(manifest.pieceSize, manifest.size - piece * manifest.pieceSize);
  }
  return layoutOf(manifest).pieceLength(piece);
}
