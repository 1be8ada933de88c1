/**
 * meshtalk files: peers offer files and folders, announce their manifests across the mesh, and
 * fetch the pieces they lack from every peer that has them, each piece verified before it is
 * written, resumable after a crash. A share link names one file or folder and the peer to get it
 * from.
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
export { createManifest, type CreateManifestOptions } from "./create_manifest.ts";
export { FileShareError, type FileShareErrorCode } from "./errors.ts";
export type { Skipped } from "./folder_walk.ts";
export { pieceCount, pieceLength } from "./layout.ts";
export { formatLink, parseLink, type ShareLink } from "./link.ts";
export {
  checkManifest,
  checkManifestSignature,
  choosePieceSize,
  type HashPieces,
  type Manifest,
  manifestRoot,
  type ManifestSignature,
  MAX_PIECE_SIZE,
  MAX_PIECES,
  MIN_PIECE_SIZE,
  rootBytes,
  signingBytes,
} from "./manifest.ts";
export {
  checkFileName,
  compareUtf8,
  type FolderFile,
  folderPathProblem,
  folderProblem,
  foldPath,
  MAX_FOLDER_FILES,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  MAX_PATHS_BYTES,
} from "./names.ts";
export { createFileShare } from "./share.ts";
export type { FileShare, FileShareEvents, FileShareOptions, FileStatus } from "./types.ts";
export { ANNOUNCE_HOPS, filesApp, type FilesMessage, type FilesSchema } from "./wire.ts";
