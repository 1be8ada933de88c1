/**
 * One download of a file or folder, driven over the network and the disk: its partial file (or
 * folder) made ready (or a saved copy found), a verifying sink set up for each file, its
 * neighbours asked what they have, pieces requested as its {@linkcode Download} says, each
 * arrival sorted, progress measured, and the finished file or folder saved. The bookkeeping
 * itself is `download.ts`'s; this carries it out.
 *
 * @module
 */
import { type AppChannel, HASH_BYTES, type PeerInfo, type StoredData } from "@meshtalk/core";
import { Bitfield } from "./bitfield.ts";
import { Download } from "./download.ts";
import { FileShareError } from "./errors.ts";
import { type Layout, layoutOf } from "./layout.ts";
import type { HashPieces, Manifest } from "./manifest.ts";
import { entryPath, partialPath, prepareDownload, type Saved, saveDownload } from "./save.ts";
import { type FilesMessage, type FilesSchema, pieceKey, REFUSED_BUSY } from "./wire.ts";

/**
 * What a {@linkcode Downloader} works with.
 *
 * @example
 * ```ts
 * import type { DownloaderOptions } from "./downloader.ts";
 * const options: DownloaderOptions = {
 *   channel: { receiveIntoFile: () => {}, stopReceiving: () => {}, hashPieces: () => Promise.resolve(new Uint8Array()) },
 *   out: "./downloads",
 *   send: (peer, body) => console.log(peer, body.t),
 *   interested: () => [],
 * };
 * ```
 */
export interface DownloaderOptions {
  /** The files app's channel: for the verifying sink and hashing. */
  channel: Pick<AppChannel<FilesSchema>, "receiveIntoFile" | "stopReceiving" | "hashPieces">;
  /** The output folder. */
  out: string;
  /** Sends a message without waiting; a peer that is gone is no error. */
  send(peer: string, body: FilesMessage): void;
  /** The peers to tell of each piece verified here (they asked about the file). */
  interested(): Iterable<string>;
  /** A request unanswered for this long is given up (default 30,000 ms). */
  requestTimeoutMs?: number;
}

/**
 * What became of a piece's bytes that arrived. `late`: they could not be written, but the piece
 * was verified here already (a copy asked of several peers at the end, or one still on its way
 * when the download finished and its partial file moved): no harm was done, nothing to report.
 *
 * @example
 * ```ts
 * import type { Arrival } from "./downloader.ts";
 * const arrival: Arrival = { status: "corrupt", piece: 3, reason: "hash does not match" };
 * ```
 */
export type Arrival =
  | { status: "written"; piece: number }
  | { status: "corrupt"; piece: number; reason: string }
  | { status: "failed"; piece: number; reason: string }
  | { status: "late"; piece: number; reason: string };

/**
 * A file or folder being fetched into the output folder.
 *
 * @example
 * ```ts
 * import { Downloader } from "./downloader.ts";
 * const out = await Deno.makeTempDir();
 * const manifest = { name: "a.bin", size: 10, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * const sent: string[] = [];
 * const downloader = new Downloader(manifest, {
 *   channel: {
 *     receiveIntoFile: () => {},
 *     stopReceiving: () => {},
 *     hashPieces: () => Promise.resolve(new Uint8Array(32).fill(1)),
 *   },
 *   out,
 *   send: (peer, body) => sent.push(`${body.t} to ${peer}`),
 *   interested: () => [],
 * });
 * console.log(await downloader.prepare()); // null: nothing saved before, so it is fetched
 * downloader.receive(["ada"]);
 * console.log(sent); // ["want to ada"]
 * downloader.stop();
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export class Downloader {
  /** The file or folder. */
  readonly manifest: Manifest;
  /** Where its pieces lie. */
  readonly layout: Layout;
  /** Pieces verified here. */
  readonly have: Bitfield;
  /** The partial file (or folder) the pieces are written into. */
  readonly path: string;
  /** Who has which pieces, and what is asked of whom. */
  readonly download: Download;
  /** When it began (`performance.now()`). */
  readonly started: number = performance.now();
  /** Bytes received this run. */
  fetched = 0;
  /** Bytes found verified on disk when it began. */
  resumed = 0;
  /** Bytes per second verified over the last {@linkcode tick}s. */
  rate = 0;
  readonly #options: DownloaderOptions;
  readonly #hashPieces: HashPieces;
  #lastBytes = 0;
  #lastAt = this.started;
  #receiving = false;
  #finishing = false;
  /** The keys of the sinks set up (see `pieceKey`). */
  #sinks: string[] = [];

  /** A download of `manifest` into `options.out`, not started. */
  constructor(manifest: Manifest, options: DownloaderOptions) {
    this.manifest = manifest;
    this.layout = layoutOf(manifest);
    this.have = new Bitfield(this.layout.pieceCount);
    this.path = partialPath(options.out, manifest.root);
    this.download = new Download(this.have, {
      pieceSize: manifest.pieceSize,
      requestTimeoutMs: options.requestTimeoutMs,
    });
    this.#options = options;
    this.#hashPieces = (path, pieceSize) => options.channel.hashPieces(path, pieceSize);
  }

  /** True once the verifying sink is in place: pieces that arrive are written. */
  get receiving(): boolean {
    return this.#receiving;
  }

  /** True once every piece is in and the file is being saved. */
  get finishing(): boolean {
    return this.#finishing;
  }

  /** Bytes verified here. */
  get verifiedBytes(): number {
    let bytes = 0;
    for (const piece of this.have.pieces()) bytes += this.layout.pieceLength(piece);
    return bytes;
  }

  /**
   * Gets the download ready on disk. Returns the path of a whole copy in the output folder
   * already; else null, with what an earlier run left verified in {@linkcode have}. Throws a
   * `FileShareError` (`unwritable`) when the output folder cannot be written.
   */
  async prepare(): Promise<string | null> {
    const { out } = this.#options;
    const saved = await prepareDownload(out, this.manifest, this.have, this.#hashPieces);
    if (saved) return saved;
    this.resumed = this.have.count === 0 ? 0 : this.verifiedBytes;
    this.#lastBytes = this.resumed;
    return null;
  }

  /**
   * Sets up a verifying sink for each file that lacks pieces (see `pieceKey`), then asks `peers`
   * which pieces they have.
   */
  receive(peers: Iterable<string>): void {
    const { manifest, layout } = this;
    const folder = manifest.files !== undefined;
    for (const [i, entry] of layout.entries.entries()) {
      const pieces = Array.from({ length: entry.pieceCount }, (_, n) => entry.firstPiece + n);
      if (pieces.every((piece) => this.have.has(piece))) continue;
      const key = pieceKey(manifest.root, folder ? i : null);
      const hashes = folder
        // A copy: a view would carry the whole manifest's hashes to every worker for each file.
        ? manifest.pieces.slice(
          entry.firstPiece * HASH_BYTES,
          (entry.firstPiece + entry.pieceCount) * HASH_BYTES,
        )
        : manifest.pieces;
      this.#options.channel.receiveIntoFile(key, entryPath(this.path, manifest, i), {
        size: entry.size,
        verify: { pieceSize: manifest.pieceSize, hashes },
      });
      this.#sinks.push(key);
    }
    this.#receiving = true;
    for (const peer of peers) this.#send(peer, { t: "want", file: manifest.root });
  }

  /** `peer` has the pieces in `bits`; throws a `FileShareError` when they do not fit the file. */
  sourceHas(peer: Pick<PeerInfo, "id" | "nick">, bits: Uint8Array): void {
    let field: Bitfield;
    try {
      field = new Bitfield(this.have.size, bits);
    } catch (error) {
      const message = `${peer.nick} sent a bad bitfield: ${(error as Error).message}`;
      throw new FileShareError("bad-bitfield", message);
    }
    this.download.setBitfield(peer.id, field);
    this.schedule();
  }

  /** `peer` has come to have `piece`. */
  sourceGot(peer: string, piece: number): void {
    if (this.download.gotPiece(peer, piece)) this.schedule();
  }

  /** `peer` refused to send `piece`, for `reason`. */
  refused(peer: string, piece: number, reason: string): void {
    const busy = reason === REFUSED_BUSY;
    if (this.download.refused(peer, piece, busy, performance.now())) this.schedule();
  }

  /** `peer` is no source any more; what was asked of it goes to others. */
  removeSource(peer: string): boolean {
    if (!this.download.removeSource(peer)) return false;
    this.schedule();
    return true;
  }

  /**
   * Bytes of a piece arrived from `peer`, as the worker stored them into the file of `entry` (see
   * `Layout`; 0 for a file). A piece verified here is no longer asked of others, and the
   * interested peers hear that it is here. Bytes that could not be written for a piece verified
   * already are `late`, not `failed`: the workers verify and write pieces on their own threads,
   * so a copy can still be on its way when the last piece is in and the partial file has moved.
   */
  arrived(peer: string, stored: StoredData, entry = 0): Arrival {
    const first = this.layout.entries[entry].firstPiece;
    const piece = first + Math.floor(stored.offset / this.manifest.pieceSize);
    this.fetched += stored.length;
    this.download.answered(peer, piece);
    if (stored.status === "corrupt") {
      return { status: "corrupt", piece, reason: stored.reason ?? "corrupt" };
    }
    if (stored.status === "failed") {
      const reason = stored.reason ?? `cannot write ${stored.path}`;
      if (this.#finishing || this.have.has(piece)) return { status: "late", piece, reason };
      return { status: "failed", piece, reason };
    }
    const alsoAsked = this.download.verified(piece, peer);
    if (alsoAsked) {
      const file = this.manifest.root;
      for (const other of alsoAsked) this.#send(other, { t: "cancel", file, piece });
      for (const other of this.#options.interested()) this.#send(other, { t: "got", file, piece });
    }
    return { status: "written", piece };
  }

  /** Asks every source with room for the pieces it should send next. */
  schedule(): void {
    // Nothing is asked for before the verifying sink is in place (and, on resume, the pieces on
    // disk are known): a piece that arrived earlier would be dropped.
    if (this.#finishing || !this.#receiving) return;
    const file = this.manifest.root;
    for (const { peer, piece } of this.download.next(performance.now())) {
      this.#send(peer, { t: "request", file, piece });
    }
  }

  /** Gives up late requests, measures the rate since the last tick, and asks for more. */
  tick(now: number = performance.now()): void {
    const file = this.manifest.root;
    for (const { peer, piece } of this.download.expired(now)) {
      this.#send(peer, { t: "cancel", file, piece });
    }
    const bytes = this.verifiedBytes;
    this.rate = (bytes - this.#lastBytes) / ((now - this.#lastAt) / 1000);
    this.#lastBytes = bytes;
    this.#lastAt = now;
    this.schedule();
  }

  /**
   * Saves the finished file or folder (see `saveDownload`); null when it is being saved already.
   * Throws when it cannot be saved.
   */
  async finish(): Promise<Saved | null> {
    if (this.#finishing) return null;
    this.#finishing = true;
    this.#stopSinks();
    return await saveDownload(this.#options.out, this.manifest, this.#hashPieces);
  }

  /**
   * Stops receiving; with `cancel`, tells every peer asked for a piece not to send it. What is
   * on disk stays for a later run.
   */
  stop(cancel = false): void {
    this.#stopSinks();
    if (!cancel) return;
    for (const { peer, piece } of this.download.requests()) {
      this.#send(peer, { t: "cancel", file: this.manifest.root, piece });
    }
  }

  #stopSinks(): void {
    for (const key of this.#sinks.splice(0)) this.#options.channel.stopReceiving(key);
  }

  #send(peer: string, body: FilesMessage): void {
    this.#options.send(peer, body);
  }
}
