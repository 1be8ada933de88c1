/**
 * Where a file or folder stands here, as `files()` lists it and `progress` reports it: from what
 * the catalog knows of it (who offered it, who holds it) and what is on this peer's disk.
 *
 * @module
 */
import type { KnownFile } from "./catalog.ts";
import { pieceCount } from "./layout.ts";
import type { LocalFile } from "./local_files.ts";
import type { FileStatus } from "./types.ts";

/**
 * The status of the file or folder `known` and `local` describe (at least one of them is set),
 * naming its origin by `nickOf` when its nick is known.
 *
 * @example
 * ```ts
 * import { fileStatus } from "./status.ts";
 * const manifest = { name: "a.txt", size: 1, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * const signature = { origin: "cd".repeat(16), key: new Uint8Array(32), sig: new Uint8Array(64) };
 * const known = { manifest, signature, holders: new Map([["cd".repeat(16), null]]) };
 * const status = fileStatus(known, undefined, () => "ada");
 * console.log(status.state, status.holders, status.origin); // "known" 1 { id: "cdcd…", nick: "ada" }
 * ```
 */
export function fileStatus(
  known: KnownFile | undefined,
  local: LocalFile | undefined,
  nickOf: (id: string) => string | null,
): FileStatus {
  const manifest = (known ?? local)!.manifest;
  const downloader = local?.downloader;
  const origin = known?.signature.origin;
  return {
    name: manifest.name,
    root: manifest.root,
    size: manifest.size,
    pieces: pieceCount(manifest),
    have: local?.have.count ?? 0,
    bytes: !local ? 0 : downloader ? downloader.verifiedBytes : manifest.size,
    state: !local
      ? "known"
      : !downloader
      ? "seeding"
      : downloader.receiving
      ? "downloading"
      : "checking",
    path: local?.path ?? null,
    sources: downloader?.download.sourceCount ?? 0,
    rate: downloader?.rate ?? 0,
    kind: manifest.files ? "folder" : "file",
    ...(manifest.files ? { files: manifest.files.length } : {}),
    holders: known?.holders.size ?? (local && !downloader ? 1 : 0),
    ...(origin ? { origin: { id: origin, nick: nickOf(origin) } } : {}),
  };
}
