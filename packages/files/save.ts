/**
 * A download on disk: its partial file, or for a folder its partial folder holding one partial
 * file per file (kept in `<out>/.meshtalk/` and checked again, piece by piece, when a later run
 * resumes it), and, once every piece is in, its move to its name in the output folder. Nothing
 * outside the output folder is written, and nothing there is replaced.
 *
 * @module
 */
import { bytesEqual, HASH_BYTES } from "@meshtalk/core";
import type { Bitfield } from "./bitfield.ts";
import { FileShareError } from "./errors.ts";
import { type LayoutEntry, layoutOf } from "./layout.ts";
import { type HashPieces, type Manifest, refused } from "./manifest.ts";
import { checkFileName, folderProblem } from "./names.ts";
import { walkFolder } from "./folder_walk.ts";

/** The folder of partial files in an output folder. */
const PARTIAL_DIR = ".meshtalk";

/**
 * Where the partial file of the file with root `root` (or the partial folder of the folder) is
 * kept while it is fetched into `out`.
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
 * The path of file `entry` of `manifest` (see `Layout`) when the file or folder is at `base`:
 * `base` itself for a file, `base/<path>` for a folder's file.
 *
 * @example
 * ```ts
 * import { entryPath } from "./save.ts";
 * const folder = { size: 1, pieceSize: 16384, files: [{ path: "a/b.txt", size: 1 }] };
 * console.log(entryPath("out/docs", folder, 0)); // "out/docs/a/b.txt"
 * ```
 */
export function entryPath(base: string, manifest: Pick<Manifest, "files">, entry: number): string {
  return manifest.files ? `${base}/${manifest.files[entry].path}` : base;
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
export function holdsFile(
  path: string,
  manifest: Manifest,
  hashPieces: HashPieces,
): Promise<boolean> {
  return holdsEntry(path, layoutOf(manifest).entries[0], manifest, hashPieces);
}

/**
 * True when `dir` is a folder holding exactly the folder of `manifest`: each of its files, every
 * piece, and no other file (nor link, nor anything else but folders).
 *
 * @example
 * ```ts
 * import { holdsFolder } from "./save.ts";
 * const dir = await Deno.makeTempDir();
 * const empty = { name: "e", size: 0, pieceSize: 16384, pieces: new Uint8Array(0), root: "", files: [] };
 * const hashPieces = () => Promise.resolve(new Uint8Array());
 * console.log(await holdsFolder(dir, empty, hashPieces)); // true
 * await Deno.writeTextFile(`${dir}/extra`, "");
 * console.log(await holdsFolder(dir, empty, hashPieces)); // false
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function holdsFolder(
  dir: string,
  manifest: Manifest,
  hashPieces: HashPieces,
): Promise<boolean> {
  const info = await Deno.lstat(dir).catch(() => null);
  if (!info?.isDirectory || !manifest.files) return false;
  let other = false;
  const found = await walkFolder(dir, () => other = true).catch(() => null);
  if (!found || other || found.length !== manifest.files.length) return false;
  const there = new Set(found.map((file) => file.path));
  const { entries } = layoutOf(manifest);
  for (const entry of entries) {
    if (!there.has(entry.path)) return false;
    if (!(await holdsEntry(`${dir}/${entry.path}`, entry, manifest, hashPieces))) return false;
  }
  return true;
}

/** True when `path` is a regular file holding exactly `entry` of `manifest`, every piece. */
async function holdsEntry(
  path: string,
  entry: LayoutEntry,
  manifest: Manifest,
  hashPieces: HashPieces,
): Promise<boolean> {
  const info = await Deno.lstat(path).catch(() => null);
  if (!info?.isFile || info.size !== entry.size) return false;
  if (entry.size === 0) return true;
  const expected = manifest.pieces.subarray(
    entry.firstPiece * HASH_BYTES,
    (entry.firstPiece + entry.pieceCount) * HASH_BYTES,
  );
  return bytesEqual(await hashPieces(path, manifest.pieceSize), expected);
}

/**
 * Gets a download ready in `out`: returns the path of a copy saved there already (by an earlier
 * run, or by hand), checked whole; else makes the partial file the file's size (for a folder, the
 * partial folder with each file at its size) and sets in `have` the pieces an earlier run left
 * that still match their hashes, and returns null. Throws a {@linkcode FileShareError}:
 * `bad-name` or `bad-manifest` for a name or folder path that is not safe (before anything is
 * written), `unwritable` when the folder or a file cannot be written.
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
  if (manifest.files) {
    // Checked when the manifest came in; checked again here, as nothing may be written for it.
    checkFileName(manifest.name);
    const why = folderProblem(manifest.files);
    if (why) throw refused(manifest, why);
  }
  try {
    checkFileName(manifest.name);
    const saved = `${out}/${manifest.name}`;
    if (await holds(saved, manifest, hashPieces)) return saved;
    const partial = partialPath(out, manifest.root);
    await Deno.mkdir(`${out}/${PARTIAL_DIR}`, { recursive: true });
    if (manifest.files) await Deno.mkdir(partial, { recursive: true });
    for (const [i, entry] of layoutOf(manifest).entries.entries()) {
      const path = entryPath(partial, manifest, i);
      if (manifest.files) {
        await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      }
      await preparePart(path, entry, manifest, have, hashPieces);
    }
    return null;
  } catch (error) {
    throw new FileShareError(
      "unwritable",
      `cannot save ${manifest.name} in ${out}: ${(error as Error).message}`,
    );
  }
}

/**
 * Makes the partial file of one entry its size, and sets in `have` the pieces of it that an
 * earlier run left and that still match their hashes.
 */
async function preparePart(
  path: string,
  entry: LayoutEntry,
  manifest: Manifest,
  have: Bitfield,
  hashPieces: HashPieces,
): Promise<void> {
  const info = await Deno.lstat(path).catch(() => null);
  if (info && !info.isFile) throw new Error(`${path} is in the way: it is not a regular file`);
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    const size = (await file.stat()).size;
    if (size !== entry.size) await file.truncate(entry.size);
    // What an earlier run left counts only piece by piece, each checked again.
    if (size > 0 && entry.size > 0) {
      checkPieces(await hashPieces(path, manifest.pieceSize), entry, manifest, have);
    }
  } finally {
    file.close();
  }
}

/** Sets in `have` every piece of `entry` whose hash in `hashes` is the manifest's. */
function checkPieces(
  hashes: Uint8Array,
  entry: LayoutEntry,
  manifest: Manifest,
  have: Bitfield,
): void {
  for (let i = 0; i < entry.pieceCount; i++) {
    const at = (entry.firstPiece + i) * HASH_BYTES;
    const hash = hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
    if (bytesEqual(hash, manifest.pieces.subarray(at, at + HASH_BYTES))) {
      have.set(entry.firstPiece + i);
    }
  }
}

/** True when `path` holds exactly the file or folder of `manifest`. */
function holds(path: string, manifest: Manifest, hashPieces: HashPieces): Promise<boolean> {
  return manifest.files
    ? holdsFolder(path, manifest, hashPieces)
    : holdsFile(path, manifest, hashPieces);
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
 * Moves the finished partial file (or folder) of `manifest` into place in `out`: to its name,
 * unless something different has it, which is kept, and the new one saved as `<root8>-<name>`
 * beside it. A copy with the same bytes there already stands for it. A file's name is claimed
 * with a hard link, and a folder's by making an empty folder of that name, which both fail rather
 * than replace anything, so two downloads of one name finishing together cannot overwrite each
 * other. Throws a {@linkcode FileShareError} (`unwritable`) when neither name can be had.
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
  const claim: Claim = manifest.files ? claimFolder : claimFile;
  for (const [i, target] of candidates.entries()) {
    if (await claim(partial, target, manifest, hashPieces)) {
      await removeEmptyPartialDir(out);
      return { path: candidates[i], beside: i > 0 ? candidates[0] : null };
    }
  }
  throw new FileShareError(
    "unwritable",
    `cannot save ${manifest.name}: ${candidates.join(" and ")} exist and hold other files`,
  );
}

/**
 * Moves the partial file or folder of `manifest` to `target`, or removes it when `target` holds
 * the same already; false when `target` holds something else.
 */
type Claim = (
  partial: string,
  target: string,
  manifest: Manifest,
  hashPieces: HashPieces,
) => Promise<boolean>;

/** Claims a file's name with a hard link, which fails rather than replace anything. */
const claimFile: Claim = async (partial, target, manifest, hashPieces) => {
  try {
    await Deno.link(partial, target);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      // No hard links here (some file systems): check, then rename.
      if (await Deno.lstat(target).then(() => true, () => false)) {
        if (!(await holdsFile(target, manifest, hashPieces))) return false;
      } else {
        await Deno.rename(partial, target);
        return true;
      }
    } else if (!(await holdsFile(target, manifest, hashPieces))) return false;
  }
  await Deno.remove(partial);
  return true;
};

/** Claims a folder's name by making it, empty, which fails rather than replace anything. */
const claimFolder: Claim = async (partial, target, manifest, hashPieces) => {
  try {
    await Deno.mkdir(target);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    if (!(await holdsFolder(target, manifest, hashPieces))) return false;
    await Deno.remove(partial, { recursive: true });
    return true;
  }
  // The name is ours, as an empty folder, which a rename replaces (POSIX).
  try {
    await Deno.rename(partial, target);
  } catch {
    // Some systems rename onto no folder at all, even an empty one: give the name back and move.
    await Deno.remove(target);
    await Deno.rename(partial, target);
  }
  return true;
};

async function removeEmptyPartialDir(out: string): Promise<void> {
  // Deno.remove refuses a folder that is not empty: other downloads' partial files stay.
  await Deno.remove(`${out}/${PARTIAL_DIR}`).catch(() => {});
}
