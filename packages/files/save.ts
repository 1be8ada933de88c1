/**
 * A download on disk: its partial file (kept in `<out>/.meshtalk/` and checked again, piece by
 * piece, when a later run resumes it), and, once every piece is in, its move to its name in the
 * output folder. Nothing outside the output folder is written, and no existing file is replaced.
 *
 * @module
 */
import { bytesEqual, HASH_BYTES } from "@meshtalk/core";
import type { Bitfield } from "./bitfield.ts";
import { FileShareError } from "./errors.ts";
import { checkFileName, type HashPieces, type Manifest } from "./manifest.ts";

/** The folder of partial files in an output folder. */
const PARTIAL_DIR = ".meshtalk";

/**
 * Where the partial file of the file with root `root` is kept while it is fetched into `out`.
 *
 * @example
 * ```ts
 * import { partialPath } from "./save.ts";
 * console.log(partialPath("downloads", "ab".repeat(32)).startsWith("downloads/.meshtalk/abab")); // true
 * ```
 */
export function partialPath(out: string, root: string): string {
  return `${out}/${PARTIAL_DIR}/${root}.partial`;
}

/**
 * True when `path` is a regular file holding exactly the file of `manifest`, every piece.
 *
 * @example
 * ```ts
 * import { holdsFile } from "./save.ts";
 * const manifest = { name: "a", size: 1, pieceSize: 16384, pieces: new Uint8Array(32), root: "" };
 * console.log(await holdsFile("/no/such/file", manifest, () => Promise.resolve(new Uint8Array()))); // false
 * ```
 */
export async function holdsFile(
  path: string,
  manifest: Manifest,
  hashPieces: HashPieces,
): Promise<boolean> {
  const info = await Deno.lstat(path).catch(() => null);
  if (!info?.isFile || info.size !== manifest.size) return false;
  return bytesEqual(await hashPieces(path, manifest.pieceSize), manifest.pieces);
}

/**
 * Gets a download ready in `out`: returns the path of a copy saved there already (by an earlier
 * run, or by hand), checked whole; else makes the partial file the file's size and sets in `have`
 * the pieces an earlier run left in it that still match their hashes, and returns null. Throws
 * a {@linkcode FileShareError} (`unwritable`) when the folder or the file cannot be written.
 *
 * @example
 * ```ts
 * import { Bitfield } from "./bitfield.ts";
 * import { prepareDownload } from "./save.ts";
 * const out = await Deno.makeTempDir();
 * const manifest = { name: "a.bin", size: 10, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * const have = new Bitfield(1);
 * console.log(await prepareDownload(out, manifest, have, () => Promise.resolve(new Uint8Array(32)))); // null
 * console.log((await Deno.stat(`${out}/.meshtalk/${manifest.root}.partial`)).size); // 10
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function prepareDownload(
  out: string,
  manifest: Manifest,
  have: Bitfield,
  hashPieces: HashPieces,
): Promise<string | null> {
  try {
    checkFileName(manifest.name);
    const saved = `${out}/${manifest.name}`;
    if (await holdsFile(saved, manifest, hashPieces)) return saved;
    const partial = partialPath(out, manifest.root);
    await Deno.mkdir(`${out}/${PARTIAL_DIR}`, { recursive: true });
    const file = await Deno.open(partial, { read: true, write: true, create: true });
    try {
      const size = (await file.stat()).size;
      if (size !== manifest.size) await file.truncate(manifest.size);
      // What an earlier run left counts only piece by piece, each checked again.
      if (size > 0) checkPieces(await hashPieces(partial, manifest.pieceSize), manifest, have);
    } finally {
      file.close();
    }
    return null;
  } catch (error) {
    throw new FileShareError(
      "unwritable",
      `cannot save ${manifest.name} in ${out}: ${(error as Error).message}`,
    );
  }
}

/** Sets in `have` every piece whose hash in `hashes` is the manifest's. */
function checkPieces(hashes: Uint8Array, manifest: Manifest, have: Bitfield): void {
  for (let piece = 0; piece < have.size; piece++) {
    const at = piece * HASH_BYTES;
    const hash = hashes.subarray(at, at + HASH_BYTES);
    if (bytesEqual(hash, manifest.pieces.subarray(at, at + HASH_BYTES))) have.set(piece);
  }
}

/**
 * Where a finished download was saved.
 *
 * @example
 * ```ts
 * import type { Saved } from "./save.ts";
 * const saved: Saved = { path: "downloads/abababab-a.txt", beside: "downloads/a.txt" };
 * ```
 */
export interface Saved {
  /** Its path. */
  path: string;
  /** The file that had its name, when that was a different one (kept; this one went beside it). */
  beside: string | null;
}

/**
 * Moves the finished partial file of `manifest` into place in `out`: to its name, unless a
 * different file has it, which is kept, and the new one saved as `<root8>-<name>` beside it. A
 * file with the same bytes there already stands for it. The name is claimed with a hard link,
 * which fails rather than replace anything, so two downloads of one name finishing together
 * cannot overwrite each other. Throws a {@linkcode FileShareError} (`unwritable`) when neither
 * name can be had.
 *
 * @example
 * ```ts
 * import { saveDownload } from "./save.ts";
 * const out = await Deno.makeTempDir();
 * const manifest = { name: "a.txt", size: 2, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * await Deno.mkdir(`${out}/.meshtalk`);
 * await Deno.writeTextFile(`${out}/.meshtalk/${manifest.root}.partial`, "hi");
 * const saved = await saveDownload(out, manifest, () => Promise.resolve(manifest.pieces));
 * console.log(saved.path === `${out}/a.txt`, saved.beside); // true null
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function saveDownload(
  out: string,
  manifest: Manifest,
  hashPieces: HashPieces,
): Promise<Saved> {
  const partial = partialPath(out, manifest.root);
  const candidates = [
    `${out}/${manifest.name}`,
    `${out}/${manifest.root.slice(0, 8)}-${manifest.name}`,
  ];
  const placed = (i: number): Saved => ({
    path: candidates[i],
    beside: i > 0 ? candidates[0] : null,
  });
  for (const [i, target] of candidates.entries()) {
    try {
      await Deno.link(partial, target);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) {
        // No hard links here (some file systems): check, then rename.
        if (await Deno.lstat(target).then(() => true, () => false)) {
          if (!(await holdsFile(target, manifest, hashPieces))) continue;
        } else {
          await Deno.rename(partial, target);
          await removeEmptyPartialDir(out);
          return placed(i);
        }
      } else if (!(await holdsFile(target, manifest, hashPieces))) continue;
    }
    await Deno.remove(partial);
    await removeEmptyPartialDir(out);
    return placed(i);
  }
  throw new FileShareError(
    "unwritable",
    `cannot save ${manifest.name}: ${candidates.join(" and ")} exist and hold other files`,
  );
}

async function removeEmptyPartialDir(out: string): Promise<void> {
  // Deno.remove refuses a folder that is not empty: other downloads' partial files stay.
  await Deno.remove(`${out}/${PARTIAL_DIR}`).catch(() => {});
}
