/**
 * What the share command shows of a file share: each event as a line for people and as a JSON
 * event for programs (announcements, progress bars, saved files, rejected pieces, errors), the
 * files still waited for, and what an interrupted download kept.
 *
 * @module
 */
import { HASH_BYTES } from "@meshtalk/core";
import type { FileShare, FileShareEvents, FileStatus, Manifest } from "@meshtalk/files";
import { formatBytes, plural, roundSeconds } from "./format.ts";
import type { Output } from "./output.ts";
import type { ProgressBars } from "./progress.ts";

/**
 * Shows what `share` does through `out`, and its downloads as `bars`; `wanted` tells whether a
 * file announced will be fetched. Resolves nothing: the events are shown until `share` closes.
 *
 * @example
 * ```ts ignore
 * showShare(share, out, new ProgressBars(out), (manifest) => true);
 * ```
 */
export function showShare(
  share: FileShare,
  out: Output,
  bars: ProgressBars,
  wanted: (manifest: Manifest) => boolean,
): void {
  share.on("announce", ({ manifest, from, origin }) => {
    out.event("announce", {
      name: manifest.name,
      size: manifest.size,
      hash: manifest.root,
      pieces: pieceCount(manifest),
      from: { id: from.id, nick: from.nick },
      origin,
    });
    out.line(
      out.paint("2", `* ${from.nick} announced ${manifest.name} (${formatBytes(manifest.size)})`) +
        (wanted(manifest) ? "" : out.paint("2", " - not fetching it")),
    );
  });
  share.on("progress", (status) => {
    out.event("progress", progressEvent(status));
    bars.update(status);
  });
  share.on("saved", (file) => {
    bars.remove(file.root);
    out.event("saved", {
      name: file.name,
      path: file.path,
      hash: file.root,
      bytes: file.bytes,
      seconds: roundSeconds(file.seconds),
      fetched: file.fetched,
      resumed: file.resumed,
    });
    out.line(describeSaved(out, file));
  });
  share.on("piece-rejected", (rejected) => {
    out.event("piece-rejected", {
      from: { id: rejected.from.id, nick: rejected.from.nick },
      name: rejected.name,
      piece: rejected.piece,
      reason: rejected.reason,
    });
    out.line(
      out.paint(
        "33",
        `* rejected piece ${rejected.piece} of ${rejected.name} from ${rejected.from.nick}: ${rejected.reason}`,
      ),
    );
  });
  share.on("error", ({ message }) => out.error(`share: ${message}`));
}

/**
 * The line of a file offered: name, size, pieces and the start of its root hash.
 *
 * @example
 * ```ts
 * import { describeOffer } from "./share_view.ts";
 * const manifest = { name: "a.txt", size: 44, pieceSize: 2 ** 20, root: "ab".repeat(32), pieces: new Uint8Array(32) };
 * console.log(describeOffer(manifest)); // "offering a.txt (44 B, 1 piece) as abababababababab"
 * ```
 */
export function describeOffer(manifest: Manifest): string {
  const pieces = plural(pieceCount(manifest), "piece");
  return `offering ${manifest.name} (${formatBytes(manifest.size)}, ${pieces}) as ${
    manifest.root.slice(0, 16)
  }`;
}

/**
 * Each `--get` that names no file announced so far; told at the start and now and then after, so
 * that a peer waiting for a file nobody has says so.
 *
 * @example
 * ```ts
 * import { notAnnounced } from "./share_view.ts";
 * console.log(notAnnounced(["a.txt", "nosuch.txt"], [{ name: "a.txt", root: "ab".repeat(32) }]));
 * // ["nosuch.txt"]
 * ```
 */
export function notAnnounced(
  gets: string[],
  files: readonly { name: string; root: string }[],
): string[] {
  return gets.filter((get) => !files.some((file) => names(get, file)));
}

/** Says, as a line and as `waiting` events, which `--get`s no peer has announced yet. */
export function showWaiting(out: Output, gets: string[]): void {
  for (const get of gets) {
    out.event("waiting", { get });
    out.line(out.paint("2", `* waiting for ${get} (not announced by any peer yet)`));
  }
}

/**
 * What an interrupted share kept of each file it was fetching: a line and an `interrupted` event
 * each. The verified pieces stay on disk; the same command resumes from them.
 *
 * @example
 * ```ts
 * import { describeKept } from "./share_view.ts";
 * console.log(describeKept({ name: "part2.txt", bytes: 137 * 2 ** 20, size: 300 * 2 ** 20 }));
 * // "part2.txt: 137.0 MiB of 300.0 MiB kept; run the same command to resume"
 * ```
 */
export function describeKept(file: Pick<FileStatus, "name" | "bytes" | "size">): string {
  return `${file.name}: ${formatBytes(file.bytes)} of ${
    formatBytes(file.size)
  } kept; run the same command to resume`;
}

/** Shows {@linkcode describeKept} for each file of `files` still being fetched. */
export function showKept(out: Output, files: FileStatus[]): void {
  for (const file of files) {
    if (file.state !== "downloading" && file.state !== "checking") continue;
    out.event("interrupted", {
      name: file.name,
      hash: file.root,
      bytes: file.bytes,
      size: file.size,
    });
    out.line(describeKept(file));
  }
}

/**
 * True when `wanted`, a `--get`, names `file`: by its name, or by a prefix of its root hash.
 *
 * @example
 * ```ts
 * import { names } from "./share_view.ts";
 * console.log(names("abab1234", { name: "a.txt", root: "abab1234ff" })); // true
 * ```
 */
export function names(wanted: string, file: { name: string; root: string }): boolean {
  return wanted === file.name || file.root.startsWith(wanted);
}

function describeSaved(out: Output, file: FileShareEvents["saved"]): string {
  if (file.fetched === 0 && file.resumed === file.bytes) {
    return out.paint("32", `have ${file.name}`) +
      ` already (${formatBytes(file.bytes)}, every piece verified) at ${file.path}`;
  }
  return out.paint("32", `saved ${file.name}`) +
    ` (${formatBytes(file.bytes)}, every piece verified) to ${file.path} in ${
      roundSeconds(file.seconds)
    } s` +
    (file.resumed > 0 ? `, ${formatBytes(file.resumed)} of it resumed from disk` : "");
}

function pieceCount(manifest: Manifest): number {
  return manifest.pieces.length / HASH_BYTES;
}

function progressEvent(status: FileStatus): Record<string, unknown> {
  return {
    name: status.name,
    hash: status.root,
    bytes: status.bytes,
    size: status.size,
    pieces: status.pieces,
    have: status.have,
    rate: Math.round(status.rate),
    peers: status.sources,
  };
}
