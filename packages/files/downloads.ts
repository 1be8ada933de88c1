/**
 * The downloads of a file share, from start to saved: each one set up (or found saved), its
 * sources asked and its holders dialed, its pieces taken in as they arrive (a bad one is a strike
 * against its sender), and, whole, saved and served from then on; or stopped, keeping what was
 * verified. Each download's own work is its `Downloader`'s; this keeps them all going.
 *
 * @module
 */
import type { AppChannel, Emitter, PeerInfo, StoredData } from "@meshtalk/core";
import { type Announcer, nameOf } from "./announcer.ts";
import { Bitfield } from "./bitfield.ts";
import { HolderDialer } from "./dialer.ts";
import { Downloader } from "./downloader.ts";
import { FileShareError } from "./errors.ts";
import type { LocalFile, LocalFiles } from "./local_files.ts";
import type { Manifest } from "./manifest.ts";
import type { Saved } from "./save.ts";
import type { Strikes } from "./strikes.ts";
import type { FileShareEvents, FileStatus } from "./types.ts";
import { type FilesMessage, type FilesSchema, readPieceKey } from "./wire.ts";

/**
 * What {@linkcode Downloads} work with: the share's parts, and what it does for them.
 *
 * @example
 * ```ts
 * import type { DownloadsHost } from "./downloads.ts";
 * // A share builds one from its own parts (see share.ts and the example of `Downloads`).
 * const out: DownloadsHost["out"] = "./downloads";
 * ```
 */
export interface DownloadsHost {
  channel: AppChannel<FilesSchema>;
  /** The files here: a download is one of them while it runs. */
  local: LocalFiles;
  /** For the holders of a file, and to announce one more once it is whole. */
  announcer: Announcer;
  strikes: Strikes;
  events: Emitter<FileShareEvents>;
  /** The output folder. */
  out: string;
  /** A request unanswered for this long is asked of another peer. */
  requestTimeoutMs?: number;
  /** Sends without waiting; a peer that is gone is no error. */
  send(peer: string, body: FilesMessage): void;
  /** Reports an error as an `error` event. */
  error(error: Error): void;
  /** The status of a file or folder, for `progress` events. */
  status(root: string): FileStatus;
  /** True once the share is closed. */
  closed(): boolean;
  /** Dials a holder. */
  connect(host: string, port: number): Promise<unknown>;
  /** Disconnects a peer dropped for its bad pieces, as if it left. */
  drop(peer: PeerInfo): void;
}

/**
 * Every download of a share.
 *
 * @example
 * ```ts
 * import { Emitter, startPeer } from "@meshtalk/core";
 * import { Announcer } from "./announcer.ts";
 * import { Downloads } from "./downloads.ts";
 * import { LocalFiles } from "./local_files.ts";
 * import { Strikes } from "./strikes.ts";
 * import type { FileStatus } from "./types.ts";
 * import { filesApp } from "./wire.ts";
 * const peer = await startPeer({ apps: [filesApp], log: () => {} });
 * const channel = peer.app(filesApp);
 * const downloads = new Downloads({
 *   channel,
 *   local: new LocalFiles(),
 *   announcer: new Announcer(peer, channel),
 *   strikes: new Strikes(3),
 *   events: new Emitter(() => {}),
 *   out: "./downloads",
 *   send: (peerId, body) => channel.send(peerId, body).catch(() => {}),
 *   error: (error) => console.error(error.message),
 *   status: (root) => ({ root }) as FileStatus,
 *   closed: () => false,
 *   connect: (host, port) => peer.connect(host, port),
 *   drop: (info) => peer.disconnect(info.id),
 * });
 * console.log(downloads.get("ab".repeat(32))); // undefined: nothing is being fetched
 * await peer.close();
 * ```
 */
export class Downloads {
  readonly #host: DownloadsHost;
  readonly #dialer: HolderDialer;

  /** No downloads yet. */
  constructor(host: DownloadsHost) {
    this.#host = host;
    this.#dialer = new HolderDialer({ connect: ({ host: h, port }) => host.connect(h, port) });
  }

  /** The download of `root`, if it runs. */
  get(root: string): Downloader | undefined {
    return this.#host.local.get(root)?.downloader;
  }

  /**
   * Starts fetching `manifest` (unless it is here, or being fetched): found saved already, it is
   * served at once; else its sources are asked. Throws a `FileShareError` when it cannot be
   * saved in the output folder, or is refused there.
   */
  async start(manifest: Manifest): Promise<void> {
    const { root } = manifest;
    const { local: files, channel, strikes } = this.#host;
    if (files.get(root) || this.#host.closed()) return;
    const downloader = new Downloader(manifest, {
      channel,
      out: this.#host.out,
      requestTimeoutMs: this.#host.requestTimeoutMs,
      send: (peerId, body) => this.#host.send(peerId, body),
      interested: () => files.interested(root),
    });
    // Claimed now: announcements of other holders do not restart it.
    const local = files.add({ manifest, have: downloader.have, path: downloader.path, downloader });
    let saved: string | null;
    try {
      saved = await downloader.prepare();
    } catch (error) {
      if (files.get(root) === local) files.delete(root);
      throw error;
    }
    // Cancelled, or closed, while it was being checked.
    if (this.#host.closed() || files.get(root) !== local) return;
    if (saved) {
      // Saved by an earlier run (or put there by hand): checked, not fetched again.
      local.have = Bitfield.full(local.have.size);
      return this.#nowSeeding(local, downloader, saved, manifest.size);
    }
    if (local.have.complete) return await this.#finish(local);
    const peers = channel.peers().map((info) => info.id);
    downloader.receive(peers.filter((id) => !strikes.isDropped(id)));
    this.dialHolders(downloader);
  }

  /**
   * Stops the download of `root`; with `cancel`, tells the peers asked for pieces not to send
   * them. What is on disk stays for a later run. False when it was not running, or is being
   * saved already.
   */
  stop(root: string, cancel = false): boolean {
    const local = this.#host.local.get(root);
    if (!local?.downloader || local.downloader.finishing) return false;
    this.#stop(local, cancel);
    return true;
  }

  /** Stops every download (the share closes). */
  stopAll(): void {
    for (const local of this.#host.local.values()) if (local.downloader) this.#stop(local);
  }

  /** A `piece` whose bytes the worker stored into the file its `file` (see `pieceKey`) names. */
  onPiece(key: string, from: PeerInfo, stored: StoredData): void {
    const ref = readPieceKey(key);
    const local = ref && this.#host.local.get(ref.root);
    const downloader = local?.downloader;
    if (!local || !downloader || ref.entry >= downloader.layout.entries.length) return;
    const arrival = downloader.arrived(from.id, stored, ref.entry);
    if (arrival.status === "corrupt") {
      this.#strike(from, local.manifest, arrival.piece, arrival.reason);
    } else if (arrival.status === "failed") {
      // The disk refused (full, or the partial file gone): asking again would fail again.
      return this.#abandon(local, arrival.reason);
    }
    if (local.have.complete) this.#finish(local).catch((error) => this.#host.error(error));
    else downloader.schedule();
  }

  /** Dials holders of a file that are not neighbours yet, when no neighbour can serve it. */
  dialHolders(downloader: Downloader): void {
    const known = this.#host.announcer.catalog.get(downloader.manifest.root);
    if (!known || downloader.download.sourceCount > 0) return;
    const connected = new Set(this.#host.channel.peers().map((info) => info.id));
    const skip = (id: string) => connected.has(id) || this.#host.strikes.isDropped(id);
    this.#dialer.dial(known.holders, skip);
  }

  /** Gives up late requests, reports progress, and dials holders where no neighbour serves. */
  tick(): void {
    for (const { manifest, downloader } of this.#host.local.values()) {
      if (!downloader || downloader.finishing) continue;
      downloader.tick();
      this.#host.events.emit("progress", this.#host.status(manifest.root));
      this.dialHolders(downloader);
    }
  }

  /** A new neighbour is asked what it has of every download. */
  joined(peerId: string): void {
    for (const { manifest, downloader } of this.#host.local.values()) {
      if (downloader?.receiving) this.#host.send(peerId, { t: "want", file: manifest.root });
    }
  }

  /** A neighbour left: what was asked of it goes to others. */
  left(peerId: string): void {
    for (const { downloader } of this.#host.local.values()) {
      if (downloader?.removeSource(peerId)) this.dialHolders(downloader);
    }
  }

  /** A bad piece: reported, and its sender dropped once it has sent too many. */
  #strike(from: PeerInfo, manifest: Manifest, piece: number, reason: string): void {
    const { strikes, events } = this.#host;
    const count = strikes.strike(from.id);
    const { name, root } = manifest;
    events.emit("piece-rejected", { from, name, root, piece, reason });
    if (count < strikes.max) return;
    const message = `dropped ${nameOf(from)}: ${count} bad pieces (last: ${reason})`;
    this.#host.error(new FileShareError("peer-dropped", message));
    this.#host.drop(from);
  }

  async #finish(local: LocalFile): Promise<void> {
    const downloader = local.downloader!;
    let saved: Saved | null;
    try {
      saved = await downloader.finish();
    } catch (error) {
      return this.#abandon(local, (error as Error).message);
    }
    if (!saved) return;
    if (saved.beside) {
      const message = `${saved.beside} exists and differs from the ${local.manifest.name} ` +
        `fetched: kept it, saved ${saved.path}`;
      this.#host.error(new FileShareError("name-taken", message));
    }
    local.path = saved.path;
    local.downloader = undefined;
    this.#host.events.emit("progress", this.#host.status(local.manifest.root));
    this.#nowSeeding(local, downloader, saved.path, downloader.resumed);
  }

  /** A whole copy is at `path`: served from now on, and the mesh hears of one more holder. */
  #nowSeeding(local: LocalFile, downloader: Downloader, path: string, resumed: number): void {
    const { manifest } = local;
    local.path = path;
    local.downloader = undefined;
    this.#host.announcer.announceHeld(manifest);
    this.#host.events.emit("saved", {
      name: manifest.name,
      root: manifest.root,
      path,
      bytes: manifest.size,
      seconds: (performance.now() - downloader.started) / 1000,
      fetched: downloader.fetched,
      resumed,
    });
  }

  /** Stops a download that cannot go on, and says why; what is on disk stays for a retry. */
  #abandon(local: LocalFile, reason: string): void {
    this.#stop(local, true);
    const message = `stopped fetching ${local.manifest.name}: ${reason}`;
    this.#host.error(new FileShareError("unwritable", message));
  }

  #stop(local: LocalFile, cancel = false): void {
    local.downloader?.stop(cancel);
    this.#host.local.delete(local.manifest.root);
  }
}
