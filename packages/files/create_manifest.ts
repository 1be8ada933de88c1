/**
 * The manifest of something on disk to offer: a file, or a folder with every regular file under
 * it (see `walkFolder`: links are skipped, never followed, and each skip is said). Piece hashes
 * can be kept in a cache folder, so that nothing unchanged is hashed again on the next start.
 *
 * @module
 */
import { blake3, concatBytes, fromHex, HASH_BYTES, toHex } from "@meshtalk/core";
import { FileShareError } from "./errors.ts";
import { type Skipped, walkFolder } from "./folder_walk.ts";
import { pieceCount } from "./layout.ts";
import {
  choosePieceSize,
  type HashPieces,
  type Manifest,
  manifestRoot,
  MAX_PIECE_SIZE,
  MAX_PIECES,
} from "./manifest.ts";
import {
  checkFileName,
  compareUtf8,
  type FolderFile,
  folderProblem,
  MAX_FOLDER_FILES,
} from "./names.ts";

/**
 * Options of {@linkcode createManifest}.
 *
 * @example
 * ```ts
 * import type { CreateManifestOptions } from "@meshtalk/files";
 * const options: CreateManifestOptions = { cacheDir: ".cache", onSkip: (s) => console.log(s.path) };
 * ```
 */
export interface CreateManifestOptions {
  /** Where piece hashes are kept, so that an unchanged file or folder is not hashed again. */
  cacheDir?: string;
  /** Hears of each thing under a folder that was left out. */
  onSkip?: (skipped: Skipped) => void;
}

/**
 * The manifest of the file or folder at `path`, named `name`. With `cacheDir`, piece hashes
 * computed before for the same path, sizes and modification times are read back instead. Throws a
 * {@linkcode FileShareError}: `unreadable` (it cannot be read, or changed while hashed),
 * `bad-name` (a bad name, or two files of a folder whose names one disk takes for the same), or
 * `too-large`.
 *
 * @example
 * ```ts
 * import { blake3 } from "@meshtalk/core";
 * import { createManifest } from "@meshtalk/files";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.txt`, "hello");
 * // One piece a file here: its hash is the hash of the whole file.
 * const hashPieces = async (file: string) => await blake3(await Deno.readFile(file));
 * const file = await createManifest(`${dir}/hello.txt`, "hello.txt", hashPieces);
 * console.log(file.size, file.pieceSize, file.root.length); // 5 16384 64
 * const folder = await createManifest(dir, "greetings", hashPieces);
 * console.log(folder.files); // [{ path: "hello.txt", size: 5 }]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function createManifest(
  path: string,
  name: string,
  hashPieces: HashPieces,
  options: CreateManifestOptions = {},
): Promise<Manifest> {
  checkFileName(name);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
    if (info.isDirectory) return await folderManifest(path, name, hashPieces, options);
    if (!info.isFile) throw new Error("not a regular file or a folder");
    (await Deno.open(path, { read: true })).close();
  } catch (error) {
    if (error instanceof FileShareError) throw error;
    throw new FileShareError("unreadable", `cannot read ${path}: ${(error as Error).message}`);
  }
  const pieceSize = choosePieceSize(info.size);
  const count = pieceCount({ size: info.size, pieceSize });
  if (count > MAX_PIECES) {
    throw new FileShareError("too-large", `${path} is larger than ${MAX_PIECES} pieces of 1 MiB`);
  }
  const stamp = { path: await Deno.realPath(path), size: info.size, mtime: mtimeOf(info) };
  const pieces = await cachedPieces(options.cacheDir, stamp, count, async () => {
    const pieces = await hashPieces(path, pieceSize);
    if (pieces.length !== count * HASH_BYTES) throw changed(path);
    return pieces;
  });
  const manifest = { name, size: info.size, pieceSize, pieces, root: "" };
  manifest.root = await manifestRoot(manifest);
  return manifest;
}

/** Files hashed at once: the hash workers run on every core. */
const HASHING_AT_ONCE = 8;

async function folderManifest(
  dir: string,
  name: string,
  hashPieces: HashPieces,
  options: CreateManifestOptions,
): Promise<Manifest> {
  const found = await walkFolder(dir, options.onSkip ?? (() => {}));
  found.sort((a, b) => compareUtf8(a.path, b.path));
  const files: FolderFile[] = found.map(({ path, size }) => ({ path, size }));
  if (files.length > MAX_FOLDER_FILES) {
    const message = `${dir} has ${files.length} files, more than the ${MAX_FOLDER_FILES} a ` +
      `folder may hold: offer its subfolders one by one`;
    throw new FileShareError("too-large", message);
  }
  const why = folderProblem(files);
  if (why) throw new FileShareError("bad-name", `cannot offer ${dir}: ${why}`);
  const size = files.reduce((total, file) => total + file.size, 0);
  let pieceSize = choosePieceSize(size);
  while (pieceCount({ size, pieceSize, files }) > MAX_PIECES && pieceSize < MAX_PIECE_SIZE) {
    pieceSize *= 2;
  }
  const count = pieceCount({ size, pieceSize, files });
  if (count > MAX_PIECES) {
    throw new FileShareError("too-large", `${dir} is larger than ${MAX_PIECES} pieces of 1 MiB`);
  }
  const stamp = {
    folder: await Deno.realPath(dir),
    pieceSize,
    files: found.map(({ path, size, mtime }) => [path, size, mtime]),
  };
  const pieces = await cachedPieces(options.cacheDir, stamp, count, async () => {
    const hashes: Uint8Array[] = new Array(files.length);
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const i = next++;
        if (files[i].size === 0) {
          hashes[i] = new Uint8Array(0);
          continue;
        }
        const path = `${dir}/${files[i].path}`;
        hashes[i] = await hashPieces(path, pieceSize).catch((error) => {
          throw new FileShareError("unreadable", `cannot read ${path}: ${error.message}`);
        });
        if (hashes[i].length !== Math.ceil(files[i].size / pieceSize) * HASH_BYTES) {
          throw changed(path);
        }
      }
    };
    await Promise.all(Array.from({ length: HASHING_AT_ONCE }, worker));
    return concatBytes(...hashes);
  });
  const manifest: Manifest = { name, size, pieceSize, pieces, root: "", files };
  manifest.root = await manifestRoot(manifest);
  return manifest;
}

/**
 * The piece hashes recorded in `cacheDir` for `stamp` (what they were computed from), or else
 * those `hash` computes, recorded for next time. A record that does not fit is ignored: the cache
 * is only a shortcut.
 */
async function cachedPieces(
  cacheDir: string | undefined,
  stamp: unknown,
  count: number,
  hash: () => Promise<Uint8Array>,
): Promise<Uint8Array> {
  if (!cacheDir) return await hash();
  const key = JSON.stringify(stamp);
  const digest = toHex(await blake3(new TextEncoder().encode(key)));
  const path = `${cacheDir}/${digest.slice(0, 32)}.json`;
  try {
    const record = JSON.parse(await Deno.readTextFile(path));
    if (JSON.stringify(record.stamp) === key && record.pieces.length === count * HASH_BYTES * 2) {
      return fromHex(record.pieces);
    }
  } catch {
    // No record yet, or one unreadable: hashed again.
  }
  const pieces = await hash();
  await Deno.mkdir(cacheDir, { recursive: true });
  await Deno.writeTextFile(`${path}.tmp`, JSON.stringify({ stamp, pieces: toHex(pieces) }));
  await Deno.rename(`${path}.tmp`, path);
  return pieces;
}

function mtimeOf(info: Deno.FileInfo): number {
  return info.mtime?.getTime() ?? 0;
}

function changed(path: string): FileShareError {
  return new FileShareError("unreadable", `${path} changed while it was hashed: offer it again`);
}
