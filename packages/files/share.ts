/**
 * Swarm file sharing over the meshtalk core. Peers announce manifests, which travel the mesh;
 * a peer that wants a file asks its neighbours which pieces they have, requests the rarest
 * first from every peer that has them, several at a time, and lets the connection runtime
 * verify each piece before it is written. Bad pieces earn their sender a strike; three, and it
 * is dropped. A finished file is renamed into place.
 *
 * @module
 */
import {
  type AppChannel,
  type AppDefinition,
  type BinSchema,
  defineApp,
  HASH_BYTES,
  type Infer,
  type MapSchema,
  type OneOfSchema,
  type OptionalSchema,
  type Peer,
  type PeerInfo,
  s,
  type StoredData,
  type StrSchema,
  type UintSchema,
} from "@meshtalk/core";
import { Bitfield } from "./bitfield.ts";
import { FileShareError } from "./errors.ts";
import {
  checkFileName,
  checkManifest,
  checkManifestSignature,
  createManifest,
  type Manifest,
  type ManifestSignature,
  MAX_PIECE_SIZE,
  MAX_PIECES,
  pieceCount,
  pieceLength,
  signingBytes,
} from "./manifest.ts";
import { pickPiece } from "./picker.ts";

type FileRef = MapSchema<{ file: StrSchema; piece: UintSchema }>;

/** Schema of every files app message. */
export type FilesSchema = OneOfSchema<"t", {
  announce: MapSchema<{
    name: StrSchema;
    size: UintSchema;
    pieceSize: UintSchema;
    pieces: BinSchema;
    root: StrSchema;
    origin: StrSchema;
    key: BinSchema;
    sig: BinSchema;
    holder: StrSchema;
    address: OptionalSchema<StrSchema>;
    hops: UintSchema;
  }>;
  want: MapSchema<{ file: StrSchema }>;
  have: MapSchema<{ file: StrSchema; bits: BinSchema }>;
  got: FileRef;
  request: FileRef;
  cancel: FileRef;
  refuse: MapSchema<{ file: StrSchema; piece: UintSchema; reason: StrSchema }>;
  piece: MapSchema<{ file: StrSchema; offset: UintSchema; data: BinSchema }>;
}>;

const ref: FileRef = s.map({ file: s.str(64), piece: s.uint(MAX_PIECES) });

/** The files app's wire messages; `piece` carries bulk bytes the workers verify and store. */
export const filesApp: AppDefinition<FilesSchema> = defineApp(
  "files",
  s.oneOf("t", {
    announce: s.map({
      name: s.str(255),
      size: s.uint(),
      pieceSize: s.uint(MAX_PIECE_SIZE),
      pieces: s.bin(MAX_PIECES * HASH_BYTES),
      root: s.str(64),
      origin: s.str(32),
      key: s.bin(32),
      sig: s.bin(64),
      holder: s.str(32),
      address: s.optional(s.str(300)),
      hops: s.uint(255),
    }),
    want: s.map({ file: s.str(64) }),
    have: s.map({ file: s.str(64), bits: s.bin(MAX_PIECES / 8) }),
    got: ref,
    request: ref,
    cancel: ref,
    refuse: s.map({ file: s.str(64), piece: s.uint(MAX_PIECES), reason: s.str(200) }),
    piece: s.map({ file: s.str(64), offset: s.uint(), data: s.bin(MAX_PIECE_SIZE) }),
  }),
  { bulk: { data: "data", key: "file", offset: "offset" } },
);

/** A files app message. */
export type FilesMessage = Infer<FilesSchema>;

/** Hop limit of announcements. */
export const ANNOUNCE_HOPS = 16;

/** Options of {@linkcode createFileShare}. */
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

/** Where a file stands here. */
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

/** What a file share reports. */
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
  /** Something went wrong that the user should hear of; the share keeps running. */
  error: { message: string; error: Error };
}

/** A peer's file sharing. */
export interface FileShare {
  /** Offers the file at `path` (named `name`, default its base name) and announces it. */
  offer(path: string, name?: string): Promise<Manifest>;
  /** Starts fetching a file announced earlier, by root hash. */
  fetch(root: string): Promise<void>;
  /** Every file this peer knows of. */
  files(): FileStatus[];
  /** Subscribes to an event; returns a function that unsubscribes. */
  on<E extends keyof FileShareEvents>(
    event: E,
    handler: (detail: FileShareEvents[E]) => void,
  ): () => void;
  /** Stops serving and fetching; files on disk stay as they are (partial ones resume later). */
  close(): void;
}

/** A file this peer has pieces of. */
interface Local {
  manifest: Manifest;
  have: Bitfield;
  /** File to serve pieces from. */
  path: string;
  download?: Download;
}

interface Source {
  bits: Bitfield;
  asked: Set<number>;
  /** It refused as busy: nothing is asked of it before this (`performance.now()`). */
  restUntil?: number;
}

interface Download {
  partial: string;
  started: number;
  fetched: number;
  resumed: number;
  sources: Map<string, Source>;
  requested: Map<number, Map<string, number>>;
  availability: Uint16Array;
  lastBytes: number;
  lastAt: number;
  rate: number;
  finishing: boolean;
  /** The verifying sink is in place: pieces that arrive are written. */
  receiving: boolean;
}

/** Bytes asked for at once, of all sources together: enough to keep a fast link busy. */
const BYTES_IN_FLIGHT = 8 * 1024 * 1024;
/** The `refuse` reason of a peer with too many requests waiting; any other means it lacks the piece. */
const BUSY = "busy";
/** How long a busy source is left alone. */
const BUSY_REST_MS = 1000;
/** Requests waiting to be served to one peer; more are refused as busy. */
const MAX_UPLOAD_QUEUE = 256;
const MAX_KNOWN_FILES = 1000;
/** Holders remembered per file. */
const MAX_HOLDERS = 8;
/** Bytes of piece hashes kept for files announced by others. */
const MAX_KNOWN_BYTES = 64 * 1024 * 1024;
const MAX_SEEN = 10_000;

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
  return new Swarm(peer, options);
}

class Swarm implements FileShare {
  readonly #peer: Peer;
  readonly #channel: AppChannel<FilesSchema>;
  readonly #out: string;
  readonly #options: Required<Omit<FileShareOptions, "out" | "cacheDir">> & { cacheDir?: string };
  readonly #known = new Map<
    string,
    { manifest: Manifest; signature: ManifestSignature; holders: Map<string, string | null> }
  >();
  readonly #local = new Map<string, Local>();
  readonly #seen = new Set<string>();
  /** Peers that asked about a file: they hear of every piece we gain. */
  readonly #interested = new Map<string, Set<string>>();
  readonly #uploads = new Map<
    string,
    { queue: { file: string; piece: number }[]; busy: boolean }
  >();
  readonly #strikes = new Map<string, number>();
  readonly #dropped = new Set<string>();
  readonly #dials = new Map<string, { at: number; delay: number }>();
  readonly #handlers = new Map<string, Set<(detail: never) => void>>();
  readonly #unsubscribe: (() => void)[];
  readonly #timer: ReturnType<typeof setInterval>;
  #closed = false;
  #knownBytes = 0;
  /** When the limit of known files was last reported. */
  #fullSince = -Infinity;
  /** When the bytes sent so far are due, at the upload rate. */
  #uploadClock = 0;

  constructor(peer: Peer, options: FileShareOptions) {
    this.#peer = peer;
    this.#channel = peer.app(filesApp);
    this.#out = options.out ?? "./downloads";
    this.#options = {
      wants: options.wants ?? (() => true),
      maxStrikes: options.maxStrikes ?? 3,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      progressIntervalMs: options.progressIntervalMs ?? 500,
      uploadRate: options.uploadRate ?? 0,
      cacheDir: options.cacheDir,
    };
    this.#unsubscribe = [
      this.#channel.onMessage((body, from, stored) => this.#onMessage(body, from, stored)),
      peer.on("peer:connected", (info) => this.#onConnected(info)),
      peer.on("peer:disconnected", ({ peer }) => this.#onDisconnected(peer.id)),
    ];
    this.#timer = setInterval(() => this.#tick(), this.#options.progressIntervalMs);
  }

  async offer(path: string, name = path.split(/[/\\]/).pop()!): Promise<Manifest> {
    const manifest = await createManifest(
      path,
      name,
      (file, pieceSize) => this.#channel.hashPieces(file, pieceSize),
      this.#options.cacheDir,
    );
    // The first announcer signs; a file announced by someone else keeps their signature.
    const signature = this.#known.get(manifest.root)?.signature ?? {
      origin: this.#peer.id,
      key: this.#peer.publicKey,
      sig: await this.#peer.sign(signingBytes(manifest.root)),
    };
    const existing = this.#local.get(manifest.root);
    if (!existing?.have.complete) {
      existing?.download && this.#stopDownload(manifest.root, existing);
      this.#local.set(manifest.root, {
        manifest,
        have: Bitfield.full(pieceCount(manifest)),
        path,
      });
    }
    this.#remember(manifest, signature, this.#peer.id, null);
    this.#seen.add(`${manifest.root}/${this.#peer.id}`);
    this.#channel.broadcast(this.#announcement(manifest, this.#peer.id, null, ANNOUNCE_HOPS));
    return manifest;
  }

  async fetch(root: string): Promise<void> {
    const known = this.#known.get(root);
    if (!known) throw new FileShareError("bad-manifest", `no file with root ${root} is known`);
    if (this.#local.has(root) || this.#closed) return;
    await this.#startDownload(known.manifest);
  }

  files(): FileStatus[] {
    return [...this.#known.values()].map(({ manifest }) => this.#status(manifest.root));
  }

  on<E extends keyof FileShareEvents>(
    event: E,
    handler: (detail: FileShareEvents[E]) => void,
  ): () => void {
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, set = new Set());
    set.add(handler as (detail: never) => void);
    return () => set.delete(handler as (detail: never) => void);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    for (const [root, local] of this.#local) if (local.download) this.#stopDownload(root, local);
  }

  // Messages.

  #onMessage(body: FilesMessage, from: PeerInfo, stored?: StoredData): void {
    if (this.#closed || this.#dropped.has(from.id)) return;
    switch (body.t) {
      case "announce":
        this.#onAnnounce(body, from).catch((error) => this.#error(error));
        break;
      case "want": {
        // Interest is kept only in files this peer has (some of): anything else costs nothing.
        const local = this.#local.get(body.file);
        if (!local) break;
        let peers = this.#interested.get(body.file);
        if (!peers) this.#interested.set(body.file, peers = new Set());
        peers.add(from.id);
        if (local && local.have.count > 0) {
          this.#send(from.id, { t: "have", file: body.file, bits: local.have.bytes });
        }
        break;
      }
      case "have":
        this.#onHave(body.file, from, body.bits);
        break;
      case "got": {
        const download = this.#local.get(body.file)?.download;
        if (!download || body.piece >= download.availability.length) break;
        let source = download.sources.get(from.id);
        if (!source) {
          source = { bits: new Bitfield(download.availability.length), asked: new Set() };
          download.sources.set(from.id, source);
        }
        if (source.bits.set(body.piece)) {
          download!.availability[body.piece]++;
          this.#schedule(body.file);
        }
        break;
      }
      case "request":
        this.#onRequest(body.file, body.piece, from.id);
        break;
      case "cancel": {
        const upload = this.#uploads.get(from.id);
        if (upload) {
          upload.queue = upload.queue.filter((r) => r.file !== body.file || r.piece !== body.piece);
        }
        break;
      }
      case "refuse": {
        const download = this.#local.get(body.file)?.download;
        const source = download?.sources.get(from.id);
        if (!source) break;
        this.#unask(download!, from.id, body.piece);
        if (body.reason === BUSY) {
          // It has the piece but too many requests waiting: ask again once it has caught up.
          source.restUntil = performance.now() + BUSY_REST_MS;
        } else if (source.bits.clear(body.piece)) {
          download!.availability[body.piece]--;
        }
        this.#schedule(body.file);
        break;
      }
      case "piece":
        this.#onPiece(body.file, from, stored);
        break;
    }
  }

  async #onAnnounce(body: Extract<FilesMessage, { t: "announce" }>, from: PeerInfo): Promise<void> {
    const key = `${body.root}/${body.holder}`;
    if (this.#seen.has(key) || body.holder === this.#peer.id) return;
    const manifest: Manifest = {
      name: body.name,
      size: body.size,
      pieceSize: body.pieceSize,
      pieces: body.pieces,
      root: body.root,
    };
    const signature = { origin: body.origin, key: body.key, sig: body.sig };
    try {
      await checkManifest(manifest);
      const known = this.#known.get(body.root)?.signature;
      if (!known || !sameBytes(known.sig, body.sig) || !sameBytes(known.key, body.key)) {
        await checkManifestSignature(manifest, signature);
      }
    } catch (error) {
      this.#error(
        new FileShareError(
          (error as FileShareError).code ?? "bad-manifest",
          `${(error as Error).message} (announced by ${from.nick} ${from.id.slice(0, 8)})`,
        ),
      );
      return;
    }
    if (this.#seen.size >= MAX_SEEN) this.#seen.delete(this.#seen.values().next().value!);
    this.#seen.add(key);
    // The holder's address as seen from here is best when it is our neighbour.
    const address = from.id === body.holder ? from.address : body.address ?? null;
    const isNew = !this.#known.has(body.root);
    if (isNew) {
      // Announcements cost memory here: a peer announcing without end must not exhaust it.
      if (this.#known.size >= MAX_KNOWN_FILES || this.#knownBytes > MAX_KNOWN_BYTES) {
        const now = performance.now();
        if (now - this.#fullSince > 60_000) {
          this.#fullSince = now;
          this.#error(
            new Error(
              `ignoring new announcements (${body.name} from ${from.nick} ${from.id.slice(0, 8)}` +
                ` among them): ${this.#known.size} files are known already, the most kept`,
            ),
          );
        }
        return;
      }
      this.#knownBytes += manifest.pieces.length;
    }
    this.#remember(manifest, signature, body.holder, address);
    if (body.hops > 1) {
      // Relays wait for the neighbours' queues: big manifests passed on in a burst must not
      // overflow them (the core drops a neighbour with too much queued for it).
      await this.#channel.drained();
      this.#channel.broadcast(
        this.#announcement(manifest, body.holder, address, body.hops - 1),
        from.id,
      );
    }
    if (isNew) {
      this.#emit("announce", {
        manifest: this.#known.get(body.root)!.manifest,
        from,
        origin: body.origin,
      });
    }
    const local = this.#local.get(body.root);
    if (!local && this.#options.wants(manifest)) await this.#startDownload(manifest);
    else if (local?.download) {
      // A neighbour that has just come to hold the file can be asked at once.
      if (from.id === body.holder && local.download.receiving) {
        this.#send(from.id, { t: "want", file: body.root });
      }
      this.#dialHolders(body.root);
    }
  }

  #onHave(file: string, from: PeerInfo, bytes: Uint8Array): void {
    const download = this.#local.get(file)?.download;
    if (!download) return;
    let bits: Bitfield;
    try {
      bits = new Bitfield(pieceCount(this.#local.get(file)!.manifest), bytes);
    } catch (error) {
      this.#error(new Error(`${from.nick} sent a bad bitfield: ${(error as Error).message}`));
      return;
    }
    const old = download.sources.get(from.id);
    if (old) { for (const piece of old.bits.pieces()) download.availability[piece]--; }
    download.sources.set(from.id, { bits, asked: old?.asked ?? new Set() });
    for (const piece of bits.pieces()) download.availability[piece]++;
    this.#schedule(file);
  }

  #onRequest(file: string, piece: number, peerId: string): void {
    const local = this.#local.get(file);
    if (!local || piece >= local.have.size || !local.have.has(piece)) {
      this.#send(peerId, { t: "refuse", file, piece, reason: "do not have it" });
      return;
    }
    let upload = this.#uploads.get(peerId);
    if (!upload) this.#uploads.set(peerId, upload = { queue: [], busy: false });
    if (upload.queue.length >= MAX_UPLOAD_QUEUE) {
      this.#send(peerId, { t: "refuse", file, piece, reason: BUSY });
      return;
    }
    upload.queue.push({ file, piece });
    if (!upload.busy) this.#serve(peerId, upload);
  }

  /** Sends queued pieces to one peer, one after another: the core paces them to the socket. */
  async #serve(
    peerId: string,
    upload: { queue: { file: string; piece: number }[]; busy: boolean },
  ): Promise<void> {
    upload.busy = true;
    try {
      while (upload.queue.length > 0 && !this.#closed) {
        const { file, piece } = upload.queue.shift()!;
        const local = this.#local.get(file);
        if (!local || !local.have.has(piece)) continue;
        const offset = piece * local.manifest.pieceSize;
        const length = pieceLength(local.manifest, piece);
        await this.#paceUpload(length);
        await this.#channel.sendFromFile(peerId, { t: "piece", file, offset }, {
          path: local.path,
          offset,
          length,
        });
      }
    } catch {
      // The peer left: its queue goes with it.
      this.#uploads.delete(peerId);
    } finally {
      upload.busy = false;
    }
  }

  /** Waits until `bytes` more fit within the upload rate, shared by every peer served. */
  async #paceUpload(bytes: number): Promise<void> {
    const rate = this.#options.uploadRate;
    if (rate <= 0) return;
    const now = performance.now();
    this.#uploadClock = Math.max(this.#uploadClock, now) + (bytes / rate) * 1000;
    const wait = this.#uploadClock - now - (bytes / rate) * 1000;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  #onPiece(file: string, from: PeerInfo, stored: StoredData | undefined): void {
    const local = this.#local.get(file);
    const download = local?.download;
    // Bytes for no file we are fetching came to this thread whole; they are just dropped.
    if (!local || !download || !stored) return;
    const piece = Math.floor(stored.offset / local.manifest.pieceSize);
    download.fetched += stored.length;
    this.#unask(download, from.id, piece);
    if (stored.status === "written") {
      if (local.have.set(piece)) this.#gained(file, local, piece);
    } else if (stored.status === "corrupt") {
      this.#reject(from, local, piece, stored.reason ?? "corrupt");
    } else {
      // The disk refused (full, or the partial file gone): asking again would fail again.
      this.#abandon(file, local, stored.reason ?? `cannot write ${stored.path}`);
      return;
    }
    if (local.have.complete) this.#finish(file, local).catch((error) => this.#error(error));
    else this.#schedule(file);
  }

  #gained(file: string, local: Local, piece: number): void {
    const download = local.download!;
    // Whoever else was asked for it need not send it.
    const askers = download.requested.get(piece);
    for (const peerId of askers?.keys() ?? []) {
      download.sources.get(peerId)?.asked.delete(piece);
      this.#send(peerId, { t: "cancel", file, piece });
    }
    download.requested.delete(piece);
    for (const peerId of this.#interested.get(file) ?? []) {
      this.#send(peerId, { t: "got", file, piece });
    }
  }

  #reject(from: PeerInfo, local: Local, piece: number, reason: string): void {
    const strikes = (this.#strikes.get(from.id) ?? 0) + 1;
    this.#strikes.set(from.id, strikes);
    this.#emit("piece-rejected", {
      from,
      name: local.manifest.name,
      root: local.manifest.root,
      piece,
      reason,
    });
    if (strikes >= this.#options.maxStrikes) {
      this.#dropped.add(from.id);
      this.#error(
        new Error(
          `dropped ${from.nick} ${from.id.slice(0, 8)}: ${strikes} bad pieces (last: ${reason})`,
        ),
      );
      this.#onDisconnected(from.id);
      this.#peer.disconnect(from.id).catch(() => {});
    }
  }

  // Downloads.

  async #startDownload(manifest: Manifest): Promise<void> {
    const root = manifest.root;
    if (this.#local.has(root) || this.#closed) return;
    const count = pieceCount(manifest);
    const partialDir = `${this.#out}/.meshtalk`;
    const partial = `${partialDir}/${root}.partial`;
    const download: Download = {
      partial,
      started: performance.now(),
      fetched: 0,
      resumed: 0,
      sources: new Map(),
      requested: new Map(),
      availability: new Uint16Array(count),
      lastBytes: 0,
      lastAt: performance.now(),
      rate: 0,
      finishing: false,
      receiving: false,
    };
    const local: Local = { manifest, have: new Bitfield(count), path: partial, download };
    this.#local.set(root, local); // claimed now: announcements of other holders do not restart it
    try {
      checkFileName(manifest.name);
      const saved = `${this.#out}/${manifest.name}`;
      if (await this.#holds(saved, manifest)) {
        // Saved by an earlier run (or put there by hand): checked, not fetched again.
        local.have = Bitfield.full(count);
        local.path = saved;
        local.download = undefined;
        this.#becomeHolder(manifest);
        this.#emit("saved", {
          name: manifest.name,
          root,
          path: saved,
          bytes: manifest.size,
          seconds: (performance.now() - download.started) / 1000,
          fetched: 0,
          resumed: manifest.size,
        });
        return;
      }
      await Deno.mkdir(partialDir, { recursive: true });
      const file = await Deno.open(partial, { read: true, write: true, create: true });
      try {
        const size = (await file.stat()).size;
        if (size !== manifest.size) await file.truncate(manifest.size);
        if (size > 0) await this.#reverify(local, count);
      } finally {
        file.close();
      }
    } catch (error) {
      this.#local.delete(root);
      throw new FileShareError(
        "unwritable",
        `cannot save ${manifest.name} in ${this.#out}: ${(error as Error).message}`,
      );
    }
    if (this.#closed) return;
    download.resumed = local.have.count === 0 ? 0 : this.#verifiedBytes(local);
    download.lastBytes = download.resumed;
    if (local.have.complete) {
      await this.#finish(root, local);
      return;
    }
    this.#channel.receiveIntoFile(root, partial, {
      size: manifest.size,
      verify: { pieceSize: manifest.pieceSize, hashes: manifest.pieces },
    });
    download.receiving = true;
    for (const info of this.#peer.peers()) {
      if (info.apps.includes(filesApp.name) && !this.#dropped.has(info.id)) {
        this.#send(info.id, { t: "want", file: root });
      }
    }
    this.#dialHolders(root);
  }

  /** A partial file from an earlier run: every piece in it is checked again before it counts. */
  async #reverify(local: Local, count: number): Promise<void> {
    const hashes = await this.#channel.hashPieces(
      local.download!.partial,
      local.manifest.pieceSize,
    );
    const expected = local.manifest.pieces;
    for (let piece = 0; piece < count; piece++) {
      let same = true;
      for (let i = piece * HASH_BYTES; i < (piece + 1) * HASH_BYTES && same; i++) {
        same = hashes[i] === expected[i];
      }
      if (same) local.have.set(piece);
    }
  }

  #verifiedBytes(local: Local): number {
    let bytes = 0;
    for (const piece of local.have.pieces()) bytes += pieceLength(local.manifest, piece);
    return bytes;
  }

  /** Asks every source with room for the pieces it should send next. */
  #schedule(file: string): void {
    const local = this.#local.get(file);
    const download = local?.download;
    // Nothing is asked for before the verifying sink is in place (and, on resume, the pieces on
    // disk are known): a piece that arrived earlier would be dropped.
    if (!local || !download || download.finishing || !download.receiving) return;
    const now = performance.now();
    // The bytes in flight are shared among the sources: memory (the receiving workers' buffers)
    // grows with them, and one fast source keeps a link as busy as several.
    const perPeer = Math.max(
      2,
      Math.min(
        64,
        Math.floor(BYTES_IN_FLIGHT / local.manifest.pieceSize / Math.max(1, download.sources.size)),
      ),
    );
    const state = {
      have: local.have,
      requested: download.requested as unknown as Map<number, Set<string>>,
      availability: download.availability,
    };
    for (const [peerId, source] of download.sources) {
      if (source.restUntil !== undefined && now < source.restUntil) continue;
      while (source.asked.size < perPeer) {
        const piece = pickPiece(state, peerId, source.bits);
        if (piece === null) break;
        let askers = download.requested.get(piece);
        if (!askers) download.requested.set(piece, askers = new Map());
        askers.set(peerId, performance.now());
        source.asked.add(piece);
        this.#send(peerId, { t: "request", file, piece });
      }
    }
  }

  #unask(download: Download, peerId: string, piece: number): void {
    download.sources.get(peerId)?.asked.delete(piece);
    const askers = download.requested.get(piece);
    askers?.delete(peerId);
    if (askers?.size === 0) download.requested.delete(piece);
  }

  async #finish(root: string, local: Local): Promise<void> {
    const download = local.download!;
    if (download.finishing) return;
    download.finishing = true;
    this.#channel.stopReceiving(root);
    let target: string;
    try {
      target = await this.#claim(local.manifest, download.partial);
    } catch (error) {
      this.#abandon(root, local, (error as Error).message);
      return;
    }
    await Deno.remove(`${this.#out}/.meshtalk`).catch(() => {}); // only if nothing else is in it
    local.path = target;
    local.download = undefined;
    this.#emit("progress", this.#status(root));
    this.#becomeHolder(local.manifest);
    this.#emit("saved", {
      name: local.manifest.name,
      root,
      path: target,
      bytes: local.manifest.size,
      seconds: (performance.now() - download.started) / 1000,
      fetched: download.fetched,
      resumed: download.resumed,
    });
  }

  /**
   * Moves a finished file into place: its name in the output folder, unless a different file is
   * there already; that one is kept, and the new one saved beside it with its root in its name.
   * The name is claimed with a hard link, which fails rather than replace anything, so two
   * downloads of the same name finishing at once cannot overwrite each other.
   */
  async #claim(manifest: Manifest, partial: string): Promise<string> {
    const candidates = [
      `${this.#out}/${manifest.name}`,
      `${this.#out}/${manifest.root.slice(0, 8)}-${manifest.name}`,
    ];
    for (const [i, target] of candidates.entries()) {
      try {
        await Deno.link(partial, target);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) {
          // No hard links here (some file systems): check, then rename.
          if (await Deno.lstat(target).then(() => true, () => false)) {
            if (!(await this.#holds(target, manifest))) continue;
          } else {
            await Deno.rename(partial, target);
            return this.#placed(candidates, i, manifest);
          }
        } else if (!(await this.#holds(target, manifest))) continue;
      }
      await Deno.remove(partial);
      return this.#placed(candidates, i, manifest);
    }
    throw new FileShareError(
      "unwritable",
      `cannot save ${manifest.name}: ${candidates.join(" and ")} exist and hold other files`,
    );
  }

  #placed(candidates: string[], i: number, manifest: Manifest): string {
    if (i > 0) {
      this.#error(
        new Error(
          `${candidates[0]} exists and differs from the ${manifest.name} fetched: kept it, saved ${
            candidates[i]
          }`,
        ),
      );
    }
    return candidates[i];
  }

  /** Stops a download that cannot go on, and says why; what is on disk stays for a retry. */
  #abandon(root: string, local: Local, reason: string): void {
    const download = local.download;
    this.#channel.stopReceiving(root);
    for (const [piece, askers] of download?.requested ?? []) {
      for (const peerId of askers.keys()) this.#send(peerId, { t: "cancel", file: root, piece });
    }
    this.#local.delete(root);
    this.#interested.delete(root);
    this.#error(
      new FileShareError("unwritable", `stopped fetching ${local.manifest.name}: ${reason}`),
    );
  }

  /** True when `path` is a regular file holding exactly the file of `manifest`, every piece. */
  async #holds(path: string, manifest: Manifest): Promise<boolean> {
    const info = await Deno.lstat(path).catch(() => null);
    if (!info?.isFile || info.size !== manifest.size) return false;
    const hashes = await this.#channel.hashPieces(path, manifest.pieceSize);
    return hashes.every((byte, i) => byte === manifest.pieces[i]);
  }

  /** A complete copy here is one more holder for the rest of the mesh: it says so. */
  #becomeHolder(manifest: Manifest): void {
    const { root } = manifest;
    this.#remember(manifest, this.#known.get(root)!.signature, this.#peer.id, null);
    this.#seen.add(`${root}/${this.#peer.id}`);
    this.#channel.broadcast(this.#announcement(manifest, this.#peer.id, null, ANNOUNCE_HOPS));
  }

  #stopDownload(root: string, local: Local): void {
    this.#channel.stopReceiving(root);
    local.download = undefined;
    this.#local.delete(root);
    this.#interested.delete(root);
  }

  /** Dials holders of a file that are not neighbours yet, when no neighbour can serve it. */
  #dialHolders(root: string): void {
    const download = this.#local.get(root)?.download;
    const known = this.#known.get(root);
    if (!download || !known || download.sources.size > 0) return;
    const connected = new Set(this.#peer.peers().map((p) => p.id));
    const now = performance.now();
    for (const [holder, address] of known.holders) {
      if (!address || connected.has(holder) || this.#dropped.has(holder)) continue;
      // Each holder is dialed with backoff: one that fails or cuts us off is not hammered.
      const last = this.#dials.get(holder);
      if (last && now < last.at + last.delay) continue;
      this.#dials.set(holder, { at: now, delay: Math.min((last?.delay ?? 500) * 2, 60_000) });
      const at = address.lastIndexOf(":");
      const [host, port] = [address.slice(0, at), Number(address.slice(at + 1))];
      this.#peer.connect(host, port).catch(() => {});
    }
  }

  // Peers.

  #onConnected(info: PeerInfo): void {
    if (this.#closed || !info.apps.includes(filesApp.name) || this.#dropped.has(info.id)) return;
    for (const [root, local] of this.#local) {
      if (local.download?.receiving) this.#send(info.id, { t: "want", file: root });
    }
    this.#introduce(info.id).catch(() => {
      // It left: its disconnection cleans up.
    });
  }

  /**
   * Tells a new neighbour of every known file, once each, with one holder (this peer if it holds
   * the file, else the one heard of last), each send waiting for room in its queue: manifests can
   * be large, and a burst of them would overflow it.
   */
  async #introduce(peerId: string): Promise<void> {
    for (const { manifest, holders } of [...this.#known.values()]) {
      if (this.#closed) return;
      const [holder, address] = holders.has(this.#peer.id)
        ? [this.#peer.id, null]
        : [...holders].at(-1)!;
      if (holder === peerId) continue;
      await this.#channel.send(
        peerId,
        this.#announcement(manifest, holder, address, ANNOUNCE_HOPS),
      );
    }
  }

  #onDisconnected(peerId: string): void {
    this.#uploads.delete(peerId);
    for (const peers of this.#interested.values()) peers.delete(peerId);
    for (const [root, local] of this.#local) {
      const download = local.download;
      const source = download?.sources.get(peerId);
      if (!source) continue;
      for (const piece of source.bits.pieces()) download!.availability[piece]--;
      for (const piece of source.asked) this.#unask(download!, peerId, piece);
      download!.sources.delete(peerId);
      this.#schedule(root);
      this.#dialHolders(root);
    }
  }

  #tick(): void {
    const now = performance.now();
    for (const [root, local] of this.#local) {
      const download = local.download;
      if (!download || download.finishing) continue;
      for (const [piece, askers] of download.requested) {
        for (const [peerId, since] of askers) {
          if (now - since < this.#options.requestTimeoutMs) continue;
          this.#unask(download, peerId, piece);
          this.#send(peerId, { t: "cancel", file: root, piece });
        }
      }
      const bytes = this.#verifiedBytes(local);
      download.rate = (bytes - download.lastBytes) / ((now - download.lastAt) / 1000);
      download.lastBytes = bytes;
      download.lastAt = now;
      this.#emit("progress", this.#status(root));
      this.#schedule(root);
      this.#dialHolders(root);
    }
  }

  // Helpers.

  #status(root: string): FileStatus {
    const { manifest } = this.#known.get(root) ?? this.#local.get(root)!;
    const local = this.#local.get(root);
    return {
      name: manifest.name,
      root,
      size: manifest.size,
      pieces: pieceCount(manifest),
      have: local?.have.count ?? 0,
      bytes: local ? this.#verifiedBytes(local) : 0,
      state: !local
        ? "known"
        : !local.download
        ? "seeding"
        : local.download.receiving
        ? "downloading"
        : "checking",
      path: local?.path ?? null,
      sources: local?.download?.sources.size ?? 0,
      rate: local?.download?.rate ?? 0,
    };
  }

  #remember(
    manifest: Manifest,
    signature: ManifestSignature,
    holder: string,
    address: string | null,
  ): void {
    let known = this.#known.get(manifest.root);
    if (!known) {
      this.#known.set(manifest.root, known = { manifest, signature, holders: new Map() });
    }
    // The holders heard of last are kept (a map keeps insertion order): claims cost nothing to
    // make, so their number is capped.
    known.holders.delete(holder);
    known.holders.set(holder, address);
    if (known.holders.size > MAX_HOLDERS) {
      const oldest = [...known.holders.keys()].find((id) => id !== this.#peer.id)!;
      known.holders.delete(oldest);
    }
  }

  #announcement(
    manifest: Manifest,
    holder: string,
    address: string | null,
    hops: number,
  ): FilesMessage {
    const { origin, key, sig } = this.#known.get(manifest.root)!.signature;
    return {
      t: "announce",
      name: manifest.name,
      size: manifest.size,
      pieceSize: manifest.pieceSize,
      pieces: manifest.pieces,
      root: manifest.root,
      origin,
      key,
      sig,
      holder,
      ...(address ? { address } : {}),
      hops,
    };
  }

  #send(peerId: string, body: FilesMessage): void {
    this.#channel.send(peerId, body).catch(() => {
      // The peer is gone; its disconnection cleans up after it.
    });
  }

  #error(error: Error): void {
    this.#emit("error", { message: error.message, error });
  }

  #emit<E extends keyof FileShareEvents>(event: E, detail: FileShareEvents[E]): void {
    for (const handler of this.#handlers.get(event) ?? []) {
      (handler as (detail: FileShareEvents[E]) => void)(detail);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
