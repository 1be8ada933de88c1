/**
 * Swarm file sharing over the meshtalk core. Peers announce manifests, which travel the mesh;
 * a peer that wants a file asks its neighbours which pieces they have, requests the rarest
 * first from every peer that has them, several at a time, and lets the connection runtime
 * verify each piece before it is written. Bad pieces earn their sender a strike; three, and it
 * is dropped. A finished file is renamed into place.
 *
 * This file wires the parts to the app channel and dispatches its messages: announcements and
 * the catalog (`announcer.ts`, `catalog.ts`), downloads (`downloader.ts` driving `download.ts`,
 * with `save.ts` for the disk), serving pieces (`uploader.ts`) and dialing holders (`dialer.ts`).
 *
 * @module
 */
import {
  type AppChannel,
  Emitter,
  type Peer,
  type PeerInfo,
  type StoredData,
} from "@meshtalk/core";
import { Announcer, nameOf } from "./announcer.ts";
import { Bitfield } from "./bitfield.ts";
import { HolderDialer } from "./dialer.ts";
import { Downloader } from "./downloader.ts";
import { FileShareError } from "./errors.ts";
import { type LocalFile, LocalFiles } from "./local_files.ts";
import { createManifest, type Manifest, pieceCount } from "./manifest.ts";
import type { Saved } from "./save.ts";
import { Strikes } from "./strikes.ts";
import type { FileShare, FileShareEvents, FileShareOptions, FileStatus } from "./types.ts";
import { Uploader } from "./uploader.ts";
import { type Announcement, filesApp, type FilesMessage, type FilesSchema } from "./wire.ts";

/**
 * Starts file sharing on a peer that runs {@linkcode filesApp}.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { createFileShare, filesApp } from "@meshtalk/files";
 * const peer = await startPeer({ apps: [filesApp] });
 * const share = createFileShare(peer, { out: "./downloads" });
 * share.on("saved", (file) => console.log(`saved ${file.path}`));
 * share.close();
 * await peer.close();
 * ```
 */
export function createFileShare(peer: Peer, options: FileShareOptions = {}): FileShare {
  return new Share(peer, options);
}

class Share implements FileShare {
  readonly #peer: Peer;
  readonly #channel: AppChannel<FilesSchema>;
  readonly #options: FileShareOptions;
  readonly #out: string;
  readonly #wants: (manifest: Manifest) => boolean;
  readonly #announcer: Announcer;
  readonly #local = new LocalFiles();
  readonly #uploader: Uploader;
  readonly #dialer: HolderDialer;
  readonly #strikes: Strikes;
  readonly #events: Emitter<FileShareEvents>;
  readonly #unsubscribe: (() => void)[];
  readonly #timer: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(peer: Peer, options: FileShareOptions) {
    this.#peer = peer;
    const channel = this.#channel = peer.app(filesApp);
    this.#options = options;
    this.#out = options.out ?? "./downloads";
    this.#wants = options.wants ?? (() => true);
    this.#announcer = new Announcer(peer, channel);
    this.#strikes = new Strikes(options.maxStrikes ?? 3);
    this.#events = new Emitter((event, error) => this.#handlerFailed(event, error));
    this.#uploader = new Uploader({
      rate: options.uploadRate,
      locate: (file, piece) => this.#local.locate(file, piece),
      send: (peerId, file, range) =>
        channel.sendFromFile(peerId, { t: "piece", file, offset: range.offset }, range),
    });
    this.#dialer = new HolderDialer({ connect: ({ host, port }) => peer.connect(host, port) });
    this.#unsubscribe = [
      channel.onMessage((body, from, stored) => this.#onMessage(body, from, stored)),
      channel.onPeer((event) => {
        if (event.type === "joined") this.#joined(event.peer);
        else this.#left(event.peer.id);
      }),
    ];
    this.#timer = setInterval(() => this.#tick(), options.progressIntervalMs ?? 500);
  }

  async offer(path: string, name = path.split(/[/\\]/).pop()!): Promise<Manifest> {
    const hashPieces = (file: string, size: number) => this.#channel.hashPieces(file, size);
    const manifest = await createManifest(path, name, hashPieces, this.#options.cacheDir);
    // The first announcer signs; a file announced by someone else keeps their signature.
    const signature = await this.#announcer.signatureFor(manifest);
    const existing = this.#local.get(manifest.root);
    if (!existing?.have.complete) {
      if (existing?.downloader) this.#stopFetching(existing);
      this.#local.seed(manifest, path);
    }
    this.#announcer.announceHeld(manifest, signature);
    return manifest;
  }

  async fetch(root: string): Promise<void> {
    const known = this.#announcer.catalog.get(root);
    if (!known) throw new FileShareError("bad-manifest", `no file with root ${root} is known`);
    if (this.#local.get(root) || this.#closed) return;
    await this.#startFetching(known.manifest);
  }

  files(): FileStatus[] {
    return this.#announcer.catalog.files().map(({ manifest }) => this.#status(manifest.root));
  }

  on<E extends keyof FileShareEvents>(
    event: E,
    handler: (detail: FileShareEvents[E]) => void,
  ): () => void {
    return this.#events.on(event, handler);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#uploader.close();
    for (const local of this.#local.values()) if (local.downloader) this.#stopFetching(local);
  }

  // Messages.

  #onMessage(body: FilesMessage, from: PeerInfo, stored?: StoredData): void {
    if (this.#closed || this.#strikes.isDropped(from.id)) return;
    switch (body.t) {
      case "announce":
        this.#onAnnounce(body, from).catch((error) => this.#error(error));
        break;
      case "want": {
        const bits = this.#local.want(body.file, from.id);
        if (bits) this.#send(from.id, { t: "have", file: body.file, bits });
        break;
      }
      case "have":
        try {
          this.#downloader(body.file)?.sourceHas(from, body.bits);
        } catch (error) {
          this.#error(error as Error);
        }
        break;
      case "got":
        this.#downloader(body.file)?.sourceGot(from.id, body.piece);
        break;
      case "request": {
        const { file, piece } = body;
        const refusal = this.#uploader.request(from.id, file, piece);
        if (refusal) this.#send(from.id, { t: "refuse", file, piece, reason: refusal });
        break;
      }
      case "cancel":
        this.#uploader.cancel(from.id, body.file, body.piece);
        break;
      case "refuse":
        this.#downloader(body.file)?.refused(from.id, body.piece, body.reason);
        break;
      case "piece":
        // Bytes for no file we are fetching come to this thread whole (no `stored`): dropped.
        if (stored) this.#onPiece(body.file, from, stored);
        break;
    }
  }

  async #onAnnounce(body: Announcement, from: PeerInfo): Promise<void> {
    const announced = await this.#announcer.receive(body, from);
    if (!announced) return;
    const { manifest } = announced.file;
    if (announced.isNew) this.#events.emit("announce", { manifest, from, origin: body.origin });
    const local = this.#local.get(body.root);
    if (!local && this.#wants(manifest)) {
      await this.#startFetching(manifest);
    } else if (local?.downloader) {
      // A neighbour that has just come to hold the file can be asked at once.
      if (from.id === body.holder && local.downloader.receiving) {
        this.#send(from.id, { t: "want", file: body.root });
      }
      this.#dialHolders(local.downloader);
    }
  }

  #onPiece(file: string, from: PeerInfo, stored: StoredData): void {
    const local = this.#local.get(file);
    const downloader = local?.downloader;
    if (!local || !downloader) return;
    const arrival = downloader.arrived(from.id, stored);
    if (arrival.status === "corrupt") {
      this.#strike(from, local.manifest, arrival.piece, arrival.reason);
    } else if (arrival.status === "failed") {
      // The disk refused (full, or the partial file gone): asking again would fail again.
      return this.#abandon(local, arrival.reason);
    }
    if (local.have.complete) this.#finish(local).catch((error) => this.#error(error));
    else downloader.schedule();
  }

  /** A bad piece: reported, and its sender dropped once it has sent too many. */
  #strike(from: PeerInfo, manifest: Manifest, piece: number, reason: string): void {
    const strikes = this.#strikes.strike(from.id);
    const { name, root } = manifest;
    this.#events.emit("piece-rejected", { from, name, root, piece, reason });
    if (strikes < this.#strikes.max) return;
    const message = `dropped ${nameOf(from)}: ${strikes} bad pieces (last: ${reason})`;
    this.#error(new FileShareError("peer-dropped", message));
    this.#left(from.id);
    this.#peer.disconnect(from.id).catch(() => {});
  }

  // Downloads.

  async #startFetching(manifest: Manifest): Promise<void> {
    const { root } = manifest;
    if (this.#local.get(root) || this.#closed) return;
    const downloader = new Downloader(manifest, {
      channel: this.#channel,
      out: this.#out,
      requestTimeoutMs: this.#options.requestTimeoutMs,
      send: (peerId, body) => this.#send(peerId, body),
      interested: () => this.#local.interested(root),
    });
    // Claimed now: announcements of other holders do not restart it.
    const local = this.#local.add({
      manifest,
      have: downloader.have,
      path: downloader.path,
      downloader,
    });
    let saved: string | null;
    try {
      saved = await downloader.prepare();
    } catch (error) {
      this.#local.delete(root);
      throw error;
    }
    if (saved) {
      // Saved by an earlier run (or put there by hand): checked, not fetched again.
      local.have = Bitfield.full(local.have.size);
      return this.#nowSeeding(local, downloader, saved, manifest.size);
    }
    if (this.#closed || this.#local.get(root) !== local) return;
    if (local.have.complete) return await this.#finish(local);
    const peers = this.#channel.peers().map((info) => info.id);
    downloader.receive(peers.filter((id) => !this.#strikes.isDropped(id)));
    this.#dialHolders(downloader);
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
      this.#error(new FileShareError("name-taken", message));
    }
    local.path = saved.path;
    local.downloader = undefined;
    this.#events.emit("progress", this.#status(local.manifest.root));
    this.#nowSeeding(local, downloader, saved.path, downloader.resumed);
  }

  /** A whole copy is at `path`: served from now on, and the mesh hears of one more holder. */
  #nowSeeding(local: LocalFile, downloader: Downloader, path: string, resumed: number): void {
    const { manifest } = local;
    local.path = path;
    local.downloader = undefined;
    this.#announcer.announceHeld(manifest);
    this.#events.emit("saved", {
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
    this.#stopFetching(local, true);
    const message = `stopped fetching ${local.manifest.name}: ${reason}`;
    this.#error(new FileShareError("unwritable", message));
  }

  #stopFetching(local: LocalFile, cancel = false): void {
    local.downloader?.stop(cancel);
    this.#local.delete(local.manifest.root);
  }

  /** Dials holders of a file that are not neighbours yet, when no neighbour can serve it. */
  #dialHolders(downloader: Downloader): void {
    const known = this.#announcer.catalog.get(downloader.manifest.root);
    if (!known || downloader.download.sourceCount > 0) return;
    const connected = new Set(this.#channel.peers().map((info) => info.id));
    this.#dialer.dial(known.holders, (id) => connected.has(id) || this.#strikes.isDropped(id));
  }

  #tick(): void {
    for (const { manifest, downloader } of this.#local.values()) {
      if (!downloader || downloader.finishing) continue;
      downloader.tick();
      this.#events.emit("progress", this.#status(manifest.root));
      this.#dialHolders(downloader);
    }
  }

  // Peers.

  #joined(info: PeerInfo): void {
    if (this.#closed || this.#strikes.isDropped(info.id)) return;
    for (const { manifest, downloader } of this.#local.values()) {
      if (downloader?.receiving) this.#send(info.id, { t: "want", file: manifest.root });
    }
    this.#announcer.introduce(info.id, () => this.#closed).catch(() => {
      // It left: its departure cleans up.
    });
  }

  #left(peerId: string): void {
    this.#uploader.drop(peerId);
    this.#local.forget(peerId);
    for (const { downloader } of this.#local.values()) {
      if (downloader?.removeSource(peerId)) this.#dialHolders(downloader);
    }
  }

  // Helpers.

  #downloader(file: string): Downloader | undefined {
    return this.#local.get(file)?.downloader;
  }

  #status(root: string): FileStatus {
    const local = this.#local.get(root);
    const { manifest } = this.#announcer.catalog.get(root) ?? local!;
    const downloader = local?.downloader;
    return {
      name: manifest.name,
      root,
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
    };
  }

  #send(peerId: string, body: FilesMessage): void {
    this.#channel.send(peerId, body).catch(() => {
      // The peer is gone; its departure cleans up after it.
    });
  }

  #error(error: Error): void {
    this.#events.emit("error", { message: error.message, error });
  }

  /** A handler threw: said as an `error` event, or logged if an `error` handler threw. */
  #handlerFailed(event: keyof FileShareEvents, error: unknown): void {
    const cause = error instanceof Error ? error : new Error(String(error));
    const message = `a "${event}" handler threw: ${cause.message}`;
    if (event === "error") console.error(`files: ${message}`);
    else this.#events.emit("error", { message, error: cause });
  }
}
