/**
 * What the chat and share commands show of a file share: each transfer event as a line for people
 * and as a JSON event for programs (progress, saved files, uploads, rejected pieces, skipped
 * entries, errors), the offers made, the files still waited for, and what an interrupted download
 * kept.
 *
 * @module
 */
import { HASH_BYTES } from "@meshtalk/core";
import {
  type FileShare,
  type FileShareEvents,
  type FileStatus,
  formatLink,
  type Manifest,
} from "@meshtalk/files";
import { formatBytes, plural, roundSeconds } from "./format.ts";
import type { Output } from "./output.ts";
import type { ProgressBars } from "./progress.ts";

/**
 * Shows what `share` moves through `out`, and its downloads as `bars`, until `share` closes:
 * progress, saved files, uploads to each peer (start and end, with bytes and rate), rejected
 * pieces, what a folder offered left out, errors.
 *
 * @example
 * ```ts ignore
 * showTransfers(share, out, new ProgressBars(out));
 * ```
 */
export function showTransfers(share: FileShare, out: Output, bars: ProgressBars): void {
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
  share.on("upload", (upload) => {
    out.event("upload", {
      type: upload.type,
      peer: upload.peer,
      name: upload.name,
      hash: upload.root,
      bytes: upload.bytes,
      seconds: roundSeconds(upload.seconds),
      reason: upload.reason,
    });
    out.line(out.paint("2", `* ${describeUpload(upload)}`));
  });
  share.on("skipped", ({ name, path, reason }) => {
    out.event("skipped", { name, path, reason });
    out.line(out.paint("33", `* left ${path} out of ${name}: ${reason}`));
  });
  share.on("error", ({ message }) => out.error(`share: ${message}`));
}

/**
 * An upload's start or end in words: to whom, and at the end how much at what rate.
 *
 * @example
 * ```ts
 * import { describeUpload } from "./files_view.ts";
 * const upload = { type: "stop", peer: { id: "ab".repeat(16), nick: "bob" }, name: "a.bin",
 *   root: "cd".repeat(32), bytes: 3 * 2 ** 20, seconds: 0.5, reason: "idle" } as const;
 * console.log(describeUpload(upload)); // "sent a.bin to bob: 3.0 MiB in 0.5 s (6.0 MiB/s)"
 * ```
 */
export function describeUpload(upload: FileShareEvents["upload"]): string {
  const to = `${upload.name} to ${upload.peer.nick}`;
  if (upload.type === "start") return `sending ${to}`;
  const why = upload.reason === "left" ? ", and it left" : "";
  // Over a span too short to time, a rate would be noise.
  const span = upload.seconds >= 0.01
    ? `${roundSeconds(upload.seconds)} s (${
      formatBytes(Math.round(upload.bytes / upload.seconds))
    }/s)`
    : "under 0.01 s";
  return `sent ${to}: ${formatBytes(upload.bytes)} in ${span}${why}`;
}

/**
 * The link that fetches `manifest` from this peer, at `host` and `port`, pinned to peer `id`.
 *
 * @example
 * ```ts
 * import { offerLink } from "./files_view.ts";
 * const manifest = { name: "a.txt", size: 44, pieceSize: 2 ** 20, root: "ab".repeat(32), pieces: new Uint8Array(32) };
 * console.log(offerLink(manifest, { host: "10.0.0.7", port: 7000 }, "cd".repeat(16)).slice(0, 20));
 * // "meshtalk:abababababa"
 * ```
 */
export function offerLink(
  manifest: Manifest,
  at: { host: string; port: number },
  id: string,
): string {
  return formatLink({ root: manifest.root, host: at.host, port: at.port, id, name: manifest.name });
}

/** Says that `manifest` is offered: the line, the link, and the `offer` event. */
export function showOffer(out: Output, manifest: Manifest, link: string): void {
  out.event("offer", {
    name: manifest.name,
    size: manifest.size,
    hash: manifest.root,
    kind: manifest.files ? "folder" : "file",
    files: manifest.files?.length,
    link,
  });
  out.line(describeOffer(manifest));
  out.line(out.paint("2", `  link: ${link}`));
}

/**
 * The host a link names for a peer listening on `listenHost`: that address when it is one, else
 * (all interfaces) this machine's first external IPv4 address when the process may list its
 * interfaces (`--allow-sys=networkInterfaces`), else loopback, which reaches this machine only.
 *
 * @example
 * ```ts
 * import { linkHost } from "./files_view.ts";
 * console.log(linkHost("10.0.0.7")); // "10.0.0.7"
 * ```
 */
export function linkHost(listenHost: string): string {
  if (listenHost !== "0.0.0.0" && listenHost !== "::") return listenHost;
  const allowed = Deno.permissions.querySync({ name: "sys", kind: "networkInterfaces" });
  if (allowed.state !== "granted") return "127.0.0.1";
  const external = Deno.networkInterfaces().find((i) =>
    i.family === "IPv4" && !i.address.startsWith("127.")
  );
  return external?.address ?? "127.0.0.1";
}

/**
 * The line of a file offered: name, size, pieces and the start of its root hash.
 *
 * @example
 * ```ts
 * import { describeOffer } from "./files_view.ts";
 * const manifest = { name: "a.txt", size: 44, pieceSize: 2 ** 20, root: "ab".repeat(32), pieces: new Uint8Array(32) };
 * console.log(describeOffer(manifest)); // "offering a.txt (44 B, 1 piece) as abababababababab"
 * ```
 */
export function describeOffer(manifest: Manifest): string {
  const pieces = plural(pieceCount(manifest), "piece");
  const files = manifest.files ? `${plural(manifest.files.length, "file")}, ` : "";
  return `offering ${manifest.name} (${files}${formatBytes(manifest.size)}, ${pieces}) as ${
    manifest.root.slice(0, 16)
  }`;
}

/**
 * Each `--get` that names no file announced so far; told at the start and now and then after, so
 * that a peer waiting for a file nobody has says so.
 *
 * @example
 * ```ts
 * import { notAnnounced } from "./files_view.ts";
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
 * import { describeKept } from "./files_view.ts";
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
 * import { names } from "./files_view.ts";
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

/** How many pieces `manifest` lists. */
export function pieceCount(manifest: Manifest): number {
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
