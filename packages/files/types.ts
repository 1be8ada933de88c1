/**
 * What a user of file sharing sees: its options, the state of a file or folder, the events, and
 * the {@linkcode FileShare} itself (see `createFileShare`).
 *
 * @module
 */
import type { PeerInfo } from "@meshtalk/core";
import type { ShareLink } from "./link.ts";
import type { Manifest } from "./manifest.ts";

/**
 * Options of `createFileShare`.
 *
 * @example
 * ```ts
 * import type { FileShareOptions } from "@meshtalk/files";
 * const options: FileShareOptions = { out: "./downloads", wants: (m) => m.size < 2 ** 30, uploadRate: 2 ** 20 };
 * ```
 */
export interface FileShareOptions {
  /** Where downloads are saved (default `./downloads`); nothing outside it is written. */
  out?: string;
  /** Where manifests of offered files are kept, so they are not hashed again on every start. */
  cacheDir?: string;
  /**
   * Which announced files and folders to fetch as soon as they are announced (default: all of
   * them). With `() => false` announcements are only recorded (`announce` events, `files()`),
   * and nothing is fetched but what `fetch` or `fetchLink` asks for.
   */
  wants?: (manifest: Manifest) => boolean;
  /** Bad pieces a peer may send before it is dropped (default 3). */
  maxStrikes?: number;
  /** A request unanswered for this long is asked of another peer (default 30,000 ms). */
  requestTimeoutMs?: number;
  /** How often `progress` is reported while downloading (default 500 ms). */
  progressIntervalMs?: number;
  /** Most bytes per second sent to all peers together (default 0: no limit). */
  uploadRate?: number;
}

/**
 * Where a file or folder stands here (see {@linkcode FileShare.files}). A folder has one status:
 * its size, pieces and progress are those of all its files together.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { createFileShare, filesApp, type FileStatus } from "@meshtalk/files";
 * const peer = await startPeer({ apps: [filesApp], log: () => {} });
 * const share = createFileShare(peer);
 * const fetching: FileStatus[] = share.files().filter((f) => f.state === "downloading");
 * share.close();
 * await peer.close();
 * ```
 */
export interface FileStatus {
  name: string;
  root: string;
  size: number;
  pieces: number;
  /** Pieces verified here. */
  have: number;
  /** Verified bytes here. */
  bytes: number;
  /**
   * `known`: announced, not fetched. `checking`: a download being set up (and what an earlier
   * run left re-verified). `downloading`: pieces are being fetched. `seeding`: complete here.
   */
  state: "seeding" | "downloading" | "checking" | "known";
  /** Where the bytes are (the source, the partial file, or the saved copy). */
  path: string | null;
  /** Peers it is being fetched from. */
  sources: number;
  /** Bytes per second over the last progress interval. */
  rate: number;
  // The fields below are set on every status a share gives; they are optional only so that
  // statuses built by hand elsewhere need not name them.
  /** A file, or a folder. */
  kind?: "file" | "folder";
  /** How many files a folder holds. */
  files?: number;
  /** How many peers are known to hold all of it, this one included (at most 8 are counted). */
  holders?: number;
  /** The peer that first offered it (signed its manifest), with its nick when it is known. */
  origin?: { id: string; nick: string | null };
}

/**
 * What a file share reports (see {@linkcode FileShare.on}).
 *
 * @example
 * ```ts
 * import type { FileShareEvents } from "@meshtalk/files";
 * const onSaved = (file: FileShareEvents["saved"]) => console.log(`saved ${file.name} to ${file.path}`);
 * ```
 */
export interface FileShareEvents {
  /** A file was announced to this peer for the first time; `origin` signed its manifest. */
  announce: { manifest: Manifest; from: PeerInfo; origin: string };
  /** A download moved on. */
  progress: FileStatus;
  /** A file was verified whole and saved. */
  saved: {
    name: string;
    root: string;
    path: string;
    bytes: number;
    seconds: number;
    /** Bytes received over the network this run (a resumed file needs fewer than its size). */
    fetched: number;
    /** Bytes found verified on disk when the download began. */
    resumed: number;
  };
  /**
   * Pieces of a file or folder started going to a peer (`start`), or stopped (`stop`: nothing
   * asked of it for 2 s, the peer left, or this share closed). `seconds` runs from the first
   * piece sent to the end of the last, so `bytes / seconds` is the rate.
   */
  upload: {
    type: "start" | "stop";
    peer: Pick<PeerInfo, "id" | "nick">;
    name: string;
    root: string;
    bytes: number;
    seconds: number;
    reason?: "idle" | "left" | "closed";
  };
  /** Something under a folder being offered was left out (a link, or not a regular file). */
  skipped: { name: string; path: string; reason: string };
  /** A peer sent a piece that failed verification; it is fetched again elsewhere. */
  "piece-rejected": { from: PeerInfo; name: string; root: string; piece: number; reason: string };
  /**
   * Something went wrong that the user should hear of; the share keeps running. `error` is a
   * `FileShareError` whose code says what, or what a handler of another event threw.
   */
  error: { message: string; error: Error };
}

/**
 * A peer's file sharing, as `createFileShare` starts it.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { createFileShare, filesApp, type FileShare } from "@meshtalk/files";
 * const peer = await startPeer({ apps: [filesApp], log: () => {} });
 * const share: FileShare = createFileShare(peer, { out: "./downloads" });
 * share.on("announce", ({ manifest, from }) => console.log(`${from.nick} offers ${manifest.name}`));
 * share.close();
 * await peer.close();
 * ```
 */
export interface FileShare {
  /**
   * Offers the file or folder at `path` (named `name`, default its base name) and announces it.
   * In a folder, links are not followed: they are left out, each with a `skipped` event.
   */
  offer(path: string, name?: string): Promise<Manifest>;
  /**
   * Starts fetching a file or folder announced earlier, by root hash (a cancelled one resumes
   * from what it kept). Throws a `FileShareError` (`bad-manifest`) when none is known.
   */
  fetch(root: string): Promise<void>;
  /**
   * Fetches exactly what a share link (see `parseLink`) names: dials the link's peer, refusing
   * any other there, waits for its announcement of the root (default up to 10 s), and starts
   * fetching it. Resolves with its manifest once the download has begun (or it is here already).
   * Throws a `FileShareError`: `bad-link`, `wrong-peer`, `unreachable` or `not-offered`.
   */
  fetchLink(link: string | ShareLink, options?: { timeoutMs?: number }): Promise<Manifest>;
  /**
   * Stops fetching a file or folder; what was verified stays on disk for a later `fetch`, and
   * its announcements no longer start it again. False when it was not being fetched (or is
   * being saved already).
   */
  cancel(root: string): boolean;
  /** Every file and folder this peer knows of. */
  files(): FileStatus[];
  /**
   * Subscribes to an event; returns a function that unsubscribes. A handler that throws does not
   * stop the share: what it threw is reported as an `error` event.
   */
  on<E extends keyof FileShareEvents>(
    event: E,
    handler: (detail: FileShareEvents[E]) => void,
  ): () => void;
  /** Stops serving and fetching; files on disk stay as they are (partial ones resume later). */
  close(): void;
}
