/**
 * What a user of file sharing sees: its options, the state of a file, the events, and the
 * {@linkcode FileShare} itself (see `createFileShare`).
 *
 * @module
 */
import type { PeerInfo } from "@meshtalk/core";
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
  /** Which announced files to fetch (default: all of them). */
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
 * Where a file stands here (see {@linkcode FileShare.files}).
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
  /** Offers the file at `path` (named `name`, default its base name) and announces it. */
  offer(path: string, name?: string): Promise<Manifest>;
  /** Starts fetching a file announced earlier, by root hash. */
  fetch(root: string): Promise<void>;
  /** Every file this peer knows of. */
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
