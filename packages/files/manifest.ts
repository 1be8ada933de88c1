/**
 * Manifests: what identifies a shared file and lets any piece of it be checked on its own.
 * A manifest holds the file's name, size, piece size and the BLAKE3-256 hash of every piece;
 * its root hash, over all of that, names the file on the wire.
 *
 * @module
 */
import { blake3, fromHex, HASH_BYTES, peerIdFromKey, toHex, verifySignature } from "@meshtalk/core";
import { FileShareError } from "./errors.ts";

/**
 * Smallest piece: below this, per-piece messages cost more than the bytes they carry.
 *
 * @example
 * ```ts
 * import { MIN_PIECE_SIZE } from "@meshtalk/files";
 * console.log(MIN_PIECE_SIZE); // 16384
 * ```
 */
export const MIN_PIECE_SIZE = 16 * 1024;
/**
 * Largest piece: one piece is one frame, and frames stop at 2 MiB.
 *
 * @example
 * ```ts
 * import { MAX_PIECE_SIZE } from "@meshtalk/files";
 * console.log(MAX_PIECE_SIZE); // 1048576
 * ```
 */
export const MAX_PIECE_SIZE = 1024 * 1024;
/**
 * Most pieces in a file (32 GiB at the largest piece size).
 *
 * @example
 * ```ts
 * import { MAX_PIECES } from "@meshtalk/files";
 * console.log(MAX_PIECES); // 32768
 * ```
 */
export const MAX_PIECES = 32 * 1024;
/**
 * Longest file name, in UTF-8 bytes.
 *
 * @example
 * ```ts
 * import { MAX_NAME_BYTES } from "@meshtalk/files";
 * console.log(MAX_NAME_BYTES); // 255
 * ```
 */
export const MAX_NAME_BYTES = 255;

/**
 * A shared file, as peers announce it.
 *
 * @example
 * ```ts
 * import type { Manifest } from "@meshtalk/files";
 * const manifest: Manifest = { name: "a.txt", size: 5, pieceSize: 16384, pieces: new Uint8Array(32), root: "" };
 * ```
 */
export interface Manifest {
  /** File name: one path component, no directories. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Bytes per piece; the last piece may be shorter. */
  pieceSize: number;
  /** BLAKE3-256 of each piece, 32 bytes apiece, in order. */
  pieces: Uint8Array;
  /** Hex BLAKE3-256 of the rest (see {@linkcode manifestRoot}): the file's identity. */
  root: string;
}

/**
 * Who first announced a file, and their signature of its root (see {@linkcode signingBytes}).
 *
 * @example
 * ```ts
 * import type { ManifestSignature } from "@meshtalk/files";
 * const signature: ManifestSignature = { origin: "ab".repeat(16), key: new Uint8Array(32), sig: new Uint8Array(64) };
 * ```
 */
export interface ManifestSignature {
  /** The announcer's peer id. */
  origin: string;
  /** Its Ed25519 public key, whose hash is `origin`. */
  key: Uint8Array;
  /** Its Ed25519 signature of {@linkcode signingBytes}(root). */
  sig: Uint8Array;
}

const SIGNING_DOMAIN = new TextEncoder().encode("meshtalk-files/1 manifest\0");

/**
 * What the first announcer of a file signs: `"meshtalk-files/1 manifest" 0x00` and the 32 bytes
 * of the root hash. The root covers every field of the manifest, so this signs them all.
 *
 * @example
 * ```ts
 * import { signingBytes } from "@meshtalk/files";
 * console.log(signingBytes("00".repeat(32)).length); // 58
 * ```
 */
export function signingBytes(root: string): Uint8Array {
  const out = new Uint8Array(SIGNING_DOMAIN.length + 32);
  out.set(SIGNING_DOMAIN);
  out.set(fromHex(root), SIGNING_DOMAIN.length);
  return out;
}

/**
 * Throws a {@linkcode FileShareError} unless `signature` is by the peer it names (the key hashes
 * to `origin`) and signs the manifest's root.
 *
 * @example
 * ```ts
 * import { generateIdentity } from "@meshtalk/core";
 * import { checkManifestSignature, manifestRoot, signingBytes } from "@meshtalk/files";
 * const fields = { name: "a.txt", size: 5, pieceSize: 16384, pieces: new Uint8Array(32) };
 * const manifest = { ...fields, root: await manifestRoot(fields) };
 * const me = await generateIdentity();
 * const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", me.privateKey, signingBytes(manifest.root) as BufferSource));
 * await checkManifestSignature(manifest, { origin: me.id, key: me.publicKey, sig }); // passes
 * ```
 */
export async function checkManifestSignature(
  manifest: Manifest,
  signature: ManifestSignature,
): Promise<void> {
  const bad = (why: string) => refused(manifest, why);
  if (signature.key.length !== 32 || await peerIdFromKey(signature.key) !== signature.origin) {
    throw bad(`its signing key is not the key of peer ${signature.origin}`);
  }
  if (!(await verifySignature(signature.key, signature.sig, signingBytes(manifest.root)))) {
    throw bad(`its signature by ${signature.origin} does not match`);
  }
}

/**
 * The piece size for a file of `size` bytes: about 64 pieces or more, so that several peers can
 * serve one file, between 16 KiB and 1 MiB, a power of two.
 *
 * @example
 * ```ts
 * import { choosePieceSize } from "@meshtalk/files";
 * console.log(choosePieceSize(64 * 2 ** 20)); // 1048576
 * ```
 */
export function choosePieceSize(size: number): number {
  let pieceSize = MIN_PIECE_SIZE;
  while (pieceSize < MAX_PIECE_SIZE && pieceSize * 64 < size) pieceSize *= 2;
  while (Math.ceil(size / pieceSize) > MAX_PIECES && pieceSize < MAX_PIECE_SIZE) pieceSize *= 2;
  return pieceSize;
}

/**
 * Number of pieces of a file.
 *
 * @example
 * ```ts
 * import { pieceCount } from "@meshtalk/files";
 * console.log(pieceCount({ size: 100_000, pieceSize: 16384 })); // 7
 * ```
 */
export function pieceCount(manifest: Pick<Manifest, "size" | "pieceSize">): number {
  return Math.ceil(manifest.size / manifest.pieceSize);
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
export function pieceLength(manifest: Pick<Manifest, "size" | "pieceSize">, piece: number): number {
  return Math.min(manifest.pieceSize, manifest.size - piece * manifest.pieceSize);
}

/**
 * The root hash of a manifest: hex BLAKE3-256 of `"meshtalk-files/1" 0x00`, the name's UTF-8
 * length (u32, big-endian) and bytes, the size (u64), the piece size (u32), and the piece hashes.
 *
 * @example
 * ```ts
 * import { manifestRoot } from "@meshtalk/files";
 * const root = await manifestRoot({ name: "a", size: 0, pieceSize: 16384, pieces: new Uint8Array(0) });
 * console.log(root.length); // 64
 * ```
 */
export async function manifestRoot(manifest: Omit<Manifest, "root">): Promise<string> {
  const name = new TextEncoder().encode(manifest.name);
  const bytes = new Uint8Array(DOMAIN.length + 4 + name.length + 8 + 4 + manifest.pieces.length);
  const view = new DataView(bytes.buffer);
  let at = 0;
  bytes.set(DOMAIN, at);
  at += DOMAIN.length;
  view.setUint32(at, name.length);
  bytes.set(name, at += 4);
  view.setBigUint64(at += name.length, BigInt(manifest.size));
  view.setUint32(at += 8, manifest.pieceSize);
  bytes.set(manifest.pieces, at + 4);
  return toHex(await blake3(bytes));
}

const DOMAIN = new TextEncoder().encode("meshtalk-files/1\0");

/**
 * Throws a {@linkcode FileShareError} unless `name` is a plain file name: one path component,
 * not `.` or `..`, no slashes, backslashes, control characters, at most 255 bytes.
 *
 * @example
 * ```ts
 * import { checkFileName } from "@meshtalk/files";
 * checkFileName("part2.txt"); // fine
 * ```
 */
export function checkFileName(name: string): void {
  const why = name.length === 0
    ? "it is empty"
    : name === "." || name === ".."
    ? "it names a directory"
    : /[/\\]/.test(name)
    ? "it holds a path separator, so it would leave the output folder"
    // deno-lint-ignore no-control-regex
    : /[\u0000-\u001f\u007f]/.test(name)
    ? "it holds control characters"
    : new TextEncoder().encode(name).length > MAX_NAME_BYTES
    ? `it is longer than ${MAX_NAME_BYTES} bytes`
    : null;
  if (why) {
    throw new FileShareError("bad-name", `refused the file name ${JSON.stringify(name)}: ${why}`);
  }
}

/**
 * Checks a manifest received from a peer: a safe name, a piece size and count within limits,
 * one hash per piece, and a root that matches. Throws a {@linkcode FileShareError} if not.
 *
 * @example
 * ```ts
 * import { checkManifest, manifestRoot } from "@meshtalk/files";
 * const fields = { name: "a.txt", size: 5, pieceSize: 16384, pieces: new Uint8Array(32) };
 * await checkManifest({ ...fields, root: await manifestRoot(fields) }); // passes
 * await checkManifest({ ...fields, root: "00".repeat(32) }).catch((e) => console.log(e.code)); // "bad-manifest"
 * ```
 */
export async function checkManifest(manifest: Manifest): Promise<void> {
  checkFileName(manifest.name);
  const { size, pieceSize, pieces } = manifest;
  const bad = (why: string) => refused(manifest, why);
  if (pieceSize < MIN_PIECE_SIZE || pieceSize > MAX_PIECE_SIZE) {
    throw bad(`a piece size of ${pieceSize} is outside ${MIN_PIECE_SIZE}..${MAX_PIECE_SIZE}`);
  }
  if (!Number.isSafeInteger(size) || pieceCount(manifest) > MAX_PIECES) {
    throw bad(`${size} bytes is more than ${MAX_PIECES} pieces`);
  }
  if (pieces.length !== pieceCount(manifest) * HASH_BYTES) {
    throw bad(`${pieces.length / HASH_BYTES} piece hashes for ${pieceCount(manifest)} pieces`);
  }
  const root = await manifestRoot(manifest);
  if (root !== manifest.root) throw bad("its root hash does not match its contents");
}

/**
 * How a manifest is built: the hashes of a file's pieces, computed off the main thread.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { filesApp, type HashPieces } from "@meshtalk/files";
 * const peer = await startPeer({ apps: [filesApp], log: () => {} });
 * const hashPieces: HashPieces = (path, pieceSize) => peer.app(filesApp).hashPieces(path, pieceSize);
 * await peer.close();
 * ```
 */
export type HashPieces = (path: string, pieceSize: number) => Promise<Uint8Array>;

/**
 * The manifest of the file at `path`, named `name`. With `cacheDir`, a manifest built before for
 * the same path, size and modification time is read back instead of hashing the file again.
 *
 * @example
 * ```ts
 * import { blake3 } from "@meshtalk/core";
 * import { createManifest } from "@meshtalk/files";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "hello");
 * // One piece here: its hash is the hash of the whole file.
 * const hashPieces = async (file: string) => await blake3(await Deno.readFile(file));
 * const manifest = await createManifest(path, "hello.txt", hashPieces);
 * console.log(manifest.size, manifest.pieceSize, manifest.root.length); // 5 16384 64
 * await Deno.remove(path);
 * ```
 */
export async function createManifest(
  path: string,
  name: string,
  hashPieces: HashPieces,
  cacheDir?: string,
): Promise<Manifest> {
  checkFileName(name);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
    if (!info.isFile) throw new Error("not a regular file");
    (await Deno.open(path, { read: true })).close();
  } catch (error) {
    throw new FileShareError("unreadable", `cannot read ${path}: ${(error as Error).message}`);
  }
  const pieceSize = choosePieceSize(info.size);
  if (Math.ceil(info.size / pieceSize) > MAX_PIECES) {
    throw new FileShareError("too-large", `${path} is larger than ${MAX_PIECES} pieces of 1 MiB`);
  }
  const stamp = {
    path: await Deno.realPath(path),
    size: info.size,
    mtime: info.mtime?.getTime() ?? 0,
  };
  const cachePath = cacheDir &&
    `${cacheDir}/${(await blakeHex(JSON.stringify(stamp))).slice(0, 32)}.json`;
  if (cachePath) {
    const cached = await readCached(cachePath, stamp, name);
    if (cached) return cached;
  }
  const pieces = await hashPieces(path, pieceSize);
  const manifest = { name, size: info.size, pieceSize, pieces, root: "" };
  manifest.root = await manifestRoot(manifest);
  if (cachePath) {
    await Deno.mkdir(cacheDir, { recursive: true });
    const record = { ...stamp, name, pieceSize, pieces: toHex(pieces), root: manifest.root };
    await Deno.writeTextFile(`${cachePath}.tmp`, JSON.stringify(record));
    await Deno.rename(`${cachePath}.tmp`, cachePath);
  }
  return manifest;
}

async function readCached(
  cachePath: string,
  stamp: { path: string; size: number; mtime: number },
  name: string,
): Promise<Manifest | null> {
  try {
    const record = JSON.parse(await Deno.readTextFile(cachePath));
    if (record.path !== stamp.path || record.size !== stamp.size || record.mtime !== stamp.mtime) {
      return null;
    }
    const manifest = {
      name,
      size: record.size,
      pieceSize: record.pieceSize,
      pieces: fromHex(record.pieces),
      root: "",
    };
    manifest.root = await manifestRoot(manifest);
    // The cache is only a shortcut: one that does not add up is ignored and rebuilt.
    return manifest.name !== record.name || manifest.root === record.root ? manifest : null;
  } catch {
    return null;
  }
}

async function blakeHex(text: string): Promise<string> {
  return toHex(await blake3(new TextEncoder().encode(text)));
}

function refused(manifest: Manifest, why: string): FileShareError {
  return new FileShareError(
    "bad-manifest",
    `refused the manifest of ${JSON.stringify(manifest.name)}: ${why}`,
  );
}
