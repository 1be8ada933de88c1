/**
 * meshtalk files: peers offer files, announce their manifests across the mesh, and fetch the
 * pieces they lack from every peer that has them, each piece verified before it is written,
 * resumable after a crash.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { createFileShare, filesApp } from "@meshtalk/files";
 * const peer = await startPeer({ apps: [filesApp] });
 * const share = createFileShare(peer, { out: "./downloads" });
 * share.on("saved", (file) => console.log(`saved ${file.name} to ${file.path}`));
 * share.close();
 * await peer.close();
 * ```
 *
 * @module
 */
export { Bitfield } from "./bitfield.ts";
export { FileShareError, type FileShareErrorCode } from "./errors.ts";
export {
  checkFileName,
  checkManifest,
  checkManifestSignature,
  choosePieceSize,
  createManifest,
  type HashPieces,
  type Manifest,
  manifestRoot,
  type ManifestSignature,
  MAX_NAME_BYTES,
  MAX_PIECE_SIZE,
  MAX_PIECES,
  MIN_PIECE_SIZE,
  pieceCount,
  pieceLength,
  signingBytes,
} from "./manifest.ts";
export { createFileShare } from "./share.ts";
export type { FileShare, FileShareEvents, FileShareOptions, FileStatus } from "./types.ts";
export { ANNOUNCE_HOPS, filesApp, type FilesMessage, type FilesSchema } from "./wire.ts";
