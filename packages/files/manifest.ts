/**
 * Manifests: what identifies a shared file or folder and lets any piece of it be checked on its
 * own. A manifest holds the name, size, piece size and the BLAKE3-256 hash of every piece, and,
 * for a folder, the path and size of each of its files; its root hash, over all of that, names
 * it on the wire.
 *
 * @module
 */
import {
  blake3,
  concatBytes,
  fromHex,
  HASH_BYTES,
  peerIdFromKey,
  toHex,
  verifySignature,
} from "@meshtalk/core";
import { FileShareError } from "./errors.ts";
import { pieceCount } from "./layout.ts";
import { checkFileName, type FolderFile, folderProblem } from "./names.ts";

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
 * A shared file or folder, as peers announce it.
 *
 * @example
 * ```ts
 * import type { Manifest } from "@meshtalk/files";
 * const file: Manifest = { name: "a.txt", size: 5, pieceSize: 16384, pieces: new Uint8Array(32), root: "" };
 * const folder: Manifest = { ...file, name: "docs", files: [{ path: "a.txt", size: 5 }] };
 * ```
 */
export interface Manifest {
  /** File or folder name: one path component. */
  name: string;
  /** Size in bytes (of a folder: of all its files together). */
  size: number;
  /** Bytes per piece; the last piece of each file may be shorter. */
  pieceSize: number;
  /** BLAKE3-256 of each piece, 32 bytes apiece, in order (see `Layout`). */
  pieces: Uint8Array;
  /** Hex BLAKE3-256 of the rest (see {@linkcode manifestRoot}): its identity. */
  root: string;
  /**
   * Set for a folder: every regular file under it, in increasing UTF-8 order of their paths
   * (see `folderProblem`). An empty folder has an empty list.
   */
  files?: FolderFile[];
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
 * The root hash of a manifest, as lowercase hex of BLAKE3-256 over the bytes
 * {@linkcode rootBytes} gives.
 *
 * @example
 * ```ts
 * import { manifestRoot } from "@meshtalk/files";
 * const root = await manifestRoot({ name: "a", size: 0, pieceSize: 16384, pieces: new Uint8Array(0) });
 * console.log(root.length); // 64
 * ```
 */
export async function manifestRoot(manifest: Omit<Manifest, "root">): Promise<string> {
  return toHex(await blake3(rootBytes(manifest)));
}

/**
 * What the root hash of a manifest is taken over (all integers unsigned, big-endian). A file:
 * `"meshtalk-files/1" 0x00`, the name's UTF-8 length (u32) and bytes, the size (u64), the piece
 * size (u32), and the piece hashes. A folder: `"meshtalk-files/1 folder" 0x00`, the name's length
 * (u32) and bytes, the piece size (u32), the number of files (u32), then for each file in order
 * its path's UTF-8 length (u32), its path and its size (u64), and last the piece hashes.
 *
 * @example
 * ```ts
 * import { rootBytes } from "@meshtalk/files";
 * const bytes = rootBytes({ name: "d", size: 0, pieceSize: 16384, pieces: new Uint8Array(0), files: [] });
 * console.log(bytes.length); // 24 + 4 + 1 + 4 + 4 = 37
 * ```
 */
export function rootBytes(manifest: Omit<Manifest, "root">): Uint8Array {
  const encoder = new TextEncoder();
  const { files, pieces } = manifest;
  const parts: Uint8Array[] = [files ? FOLDER_DOMAIN : FILE_DOMAIN];
  const u32 = (n: number) => {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, n);
    parts.push(bytes);
  };
  const u64 = (n: number) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(n));
    parts.push(bytes);
  };
  const text = (value: string) => {
    const bytes = encoder.encode(value);
    u32(bytes.length);
    parts.push(bytes);
  };
  text(manifest.name);
  if (files) {
    u32(manifest.pieceSize);
    u32(files.length);
    for (const file of files) {
      text(file.path);
      u64(file.size);
    }
  } else {
    u64(manifest.size);
    u32(manifest.pieceSize);
  }
  parts.push(pieces);
  return concatBytes(...parts);
}

const FILE_DOMAIN = new TextEncoder().encode("meshtalk-files/1\0");
const FOLDER_DOMAIN = new TextEncoder().encode("meshtalk-files/1 folder\0");

/**
 * Checks a manifest received from a peer: a safe name, a piece size and count within limits,
 * one hash per piece, for a folder safe paths (see `folderProblem`) whose sizes add up to its
 * size, and a root that matches. Throws a {@linkcode FileShareError} if not: `bad-name` for a
 * bad name, else `bad-manifest`.
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
  if (manifest.files) {
    const why = folderProblem(manifest.files);
    if (why) throw bad(why);
    const sum = manifest.files.reduce((total, file) => total + file.size, 0);
    if (sum !== size) throw bad(`its files add up to ${sum} bytes, not its size of ${size}`);
  }
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
 * The error of a refused manifest: `bad-manifest`, naming it and saying why.
 *
 * @example
 * ```ts
 * import { refused } from "./manifest.ts";
 * console.log(refused({ name: "x" }, "its root hash does not match").message);
 * // 'refused the manifest of "x": its root hash does not match'
 * ```
 */
export function refused(manifest: Pick<Manifest, "name">, why: string): FileShareError {
  return new FileShareError(
    "bad-manifest",
    `refused the manifest of ${JSON.stringify(manifest.name)}: ${why}`,
  );
}
