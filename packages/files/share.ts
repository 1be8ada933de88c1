/**
 * Swarm file sharing over the meshtalk core. Peers announce manifests of files and folders,
 * which travel the mesh; a peer that wants one asks its neighbours which pieces they have,
 * requests the rarest first from every peer that has them, several at a time, and lets the
 * connection runtime verify each piece before it is written. Bad pieces earn their sender a
 * strike; three, and it is dropped. A finished file or folder is moved into place.
 *
 * This file wires the parts to the app channel and dispatches its messages: announcements and
 * the catalog (`announcer.ts`, `catalog.ts`), downloads (`downloader.ts` driving `download.ts`,
 * with `save.ts` for the disk), serving pieces (`uploader.ts`), dialing holders (`dialer.ts`),
 * and share links (`link_fetch.ts`).
 *
 * @module
 */
import {
  type AppChannel,
  BoundedMap,
  BoundedSet,
  Emitter,
  type Peer,
  type PeerInfo,
  type StoredData,
} from "@meshtalk/core";
import { Announcer } from "./announcer.ts";
import { createManifest } from "./create_manifest.ts";
import { Downloads } from "./downloads.ts";
import { FileShareError } from "./errors.ts";
import { parseLink, type ShareLink } from "./link.ts";
import { LinkFetcher } from "./link_fetch.ts";
import { LocalFiles, type PieceSource } from "./local_files.ts";
import type { Manifest } from "./manifest.ts";
import { fileStatus } from "./status.ts";
import { Strikes } from "./strikes.ts";
import type { FileShare, FileShareEvents, FileShareOptions, FileStatus } from "./types.ts";
import type { UploadFlowEvent } from "./upload_flows.ts";
import { Uploader } from "./uploader.ts";
import { type Announcement, filesApp, type FilesMessage, type FilesSchema } from "./wire.ts";

/** How long `fetchLink` waits for the link's peer to announce what it names, by default. */
const LINK_TIMEOUT_MS = 10_000;
/** Nicks (by peer id) and cancelled roots remembered: as many as a catalog names. */
const MAX_REMEMBERED = 10_000;

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
  readonly #wants: (manifest: Manifest) => boolean;
  readonly #announcer: Announcer;
  readonly #local = new LocalFiles();
  readonly #uploader: Uploader<PieceSource>;
  readonly #downloads: Downloads;
  readonly #links: LinkFetcher;
  /** Roots whose download was cancelled: their announcements do not start them again. */
  readonly #cancelled = new BoundedSet<string>(MAX_REMEMBERED);
  readonly #nicks = new BoundedMap<string, string>(MAX_REMEMBERED);
  readonly #strikes: Strikes;
  readonly #events: Emitter<FileShareEvents>;
  readonly #unsubscribe: (() => void)[];
  readonly #timer: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(peer: Peer, options: FileShareOptions) {
    this.#peer = peer;
    const channel = this.#channel = peer.app(filesApp);
    this.#options = options;
    this.#wants = options.wants ?? (() => true);
    this.#announcer = new Announcer(peer, channel);
    this.#strikes = new Strikes(options.maxStrikes ?? 3);
    this.#events = new Emitter((event, error) => this.#handlerFailed(event, error));
    this.#uploader = new Uploader({
      rate: options.uploadRate,
      locate: (file, piece) => this.#local.locate(file, piece),
      send: (peerId, _file, source) =>
        channel.sendFromFile(
          peerId,
          { t: "piece", file: source.key, offset: source.offset },
          source,
        ),
      onFlow: (flow) => this.#onUploadFlow(flow),
    });
    this.#downloads = new Downloads({
      channel,
      local: this.#local,
      announcer: this.#announcer,
      strikes: this.#strikes,
      events: this.#events,
      out: options.out ?? "./downloads",
      requestTimeoutMs: options.requestTimeoutMs,
      send: (peerId, body) => this.#send(peerId, body),
      error: (error) => this.#error(error),
      status: (root) => this.#status(root),
      closed: () => this.#closed,
      connect: (host, port) => peer.connect(host, port),
      drop: (info) => {
        this.#left(info.id);
        peer.disconnect(info.id).catch(() => {});
      },
    });
    this.#links = new LinkFetcher({
      known: (root) => this.#announcer.catalog.get(root) !== undefined,
      connected: (id) => channel.peers().some((info) => info.id === id),
      connect: (host, port, expectPeer) => peer.connect(host, port, { expectPeer }),
    });
    this.#unsubscribe = [
      channel.onMessage((body, from, stored) => this.#onMessage(body, from, stored)),
      channel.onPeer((event) => {
        this.#nicks.set(event.peer.id, event.peer.nick);
        if (event.type === "joined") this.#joined(event.peer);
        else this.#left(event.peer.id);
      }),
    ];
    this.#timer = setInterval(() => this.#tick(), options.progressIntervalMs ?? 500);
  }

  async offer(path: string, name?: string): Promise<Manifest> {
    name ??= await baseName(path);
    const hashPieces = (file: string, size: number) => this.#channel.hashPieces(file, size);
    const manifest = await createManifest(path, name, hashPieces, {
      cacheDir: this.#options.cacheDir,
      onSkip: (skipped) => this.#events.emit("skipped", { name: name!, ...skipped }),
    });
    // The first announcer signs; a file announced by someone else keeps their signature.
    const signature = await this.#announcer.signatureFor(manifest);
    const existing = this.#local.get(manifest.root);
    if (!existing?.have.complete) {
      this.#downloads.stop(manifest.root);
      this.#local.seed(manifest, path);
    }
    this.#announcer.announceHeld(manifest, signature);
    return manifest;
  }

  async fetch(root: string): Promise<void> {
    const known = this.#announcer.catalog.get(root);
    if (!known) throw new FileShareError("bad-manifest", `no file with root ${root} is known`);
    this.#cancelled.delete(root);
    await this.#downloads.start(known.manifest);
  }

  async fetchLink(
    link: string | ShareLink,
    options: { timeoutMs?: number } = {},
  ): Promise<Manifest> {
    const { root } = typeof link === "string" ? link = parseLink(link) : link;
    await this.#links.reach(link, options.timeoutMs ?? LINK_TIMEOUT_MS);
    await this.fetch(root);
    return this.#announcer.catalog.get(root)!.manifest;
  }

  cancel(root: string): boolean {
    if (!this.#downloads.stop(root, true)) return false;
    this.#cancelled.add(root);
    this.#events.emit("progress", this.#status(root));
    return true;
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
    this.#links.close();
    this.#downloads.stopAll();
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
          this.#downloads.get(body.file)?.sourceHas(from, body.bits);
        } catch (error) {
          this.#error(error as Error);
        }
        break;
      case "got":
        this.#downloads.get(body.file)?.sourceGot(from.id, body.piece);
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
        this.#downloads.get(body.file)?.refused(from.id, body.piece, body.reason);
        break;
      case "piece":
        // Bytes for no file we are fetching come to this thread whole (no `stored`): dropped.
        if (stored) this.#downloads.onPiece(body.file, from, stored);
        break;
    }
  }

  async #onAnnounce(body: Announcement, from: PeerInfo): Promise<void> {
    const announced = await this.#announcer.receive(body, from);
    if (!announced) return;
    const { manifest } = announced.file;
    if (announced.isNew) this.#events.emit("announce", { manifest, from, origin: body.origin });
    this.#links.announced(body.root);
    const local = this.#local.get(body.root);
    if (!local && !this.#cancelled.has(body.root) && this.#wants(manifest)) {
      await this.#downloads.start(manifest);
    } else if (local?.downloader) {
      // A neighbour that has just come to hold the file can be asked at once.
      if (from.id === body.holder && local.downloader.receiving) {
        this.#send(from.id, { t: "want", file: body.root });
      }
      this.#downloads.dialHolders(local.downloader);
    }
  }

  // Peers.

  #tick(): void {
    this.#uploader.sweep();
    this.#downloads.tick();
  }

  #joined(info: PeerInfo): void {
    if (this.#closed || this.#strikes.isDropped(info.id)) return;
    this.#downloads.joined(info.id);
    this.#announcer.introduce(info.id, () => this.#closed).catch(() => {
      // It left: its departure cleans up.
    });
  }

  #left(peerId: string): void {
    this.#uploader.drop(peerId);
    this.#local.forget(peerId);
    this.#downloads.left(peerId);
  }

  // Helpers.

  #status(root: string): FileStatus {
    const known = this.#announcer.catalog.get(root);
    return fileStatus(known, this.#local.get(root), (id) => this.#nickOf(id));
  }

  #nickOf(id: string): string | null {
    return id === this.#peer.id ? this.#peer.nick : this.#nicks.get(id) ?? null;
  }

  /** An upload flow began or ended: said as an `upload` event, with the file's name. */
  #onUploadFlow(flow: UploadFlowEvent): void {
    const { type, peer, file: root, bytes, seconds, reason } = flow;
    const manifest = (this.#local.get(root) ?? this.#announcer.catalog.get(root))?.manifest;
    this.#events.emit("upload", {
      type,
      peer: { id: peer, nick: this.#nickOf(peer) ?? peer.slice(0, 8) },
      name: manifest?.name ?? root.slice(0, 16),
      root,
      bytes,
      seconds,
      ...(reason ? { reason } : {}),
    });
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

/** The last segment of `path`, or of the folder it resolves to when that is `.` or `..`. */
async function baseName(path: string): Promise<string> {
  const base = path.replace(/[/\\]+$/, "").split(/[/\\]/).pop() ?? "";
  if (base !== "" && base !== "." && base !== "..") return base;
  const real = await Deno.realPath(path).catch(() => path);
  return real.replace(/[/\\]+$/, "").split(/[/\\]/).pop() || base;
}
