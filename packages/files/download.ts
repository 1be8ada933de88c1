/**
 * The bookkeeping of one download, and nothing else: which peers have which pieces, which pieces
 * are asked of whom and since when, which peers rest after refusing as busy, how many sources to
 * keep busy (see `source_limit.ts`) and which, what to ask next, which requests have waited too
 * long, and whom to tell that a piece is no longer needed. It sends nothing, touches no file and
 * keeps no timer: the caller passes the time in and carries out what it returns, so every rule
 * here can be tested on its own.
 *
 * @module
 */
import { Bitfield } from "./bitfield.ts";
import { type PickerState, pickPiece } from "./picker.ts";
import { SourceLimit, type SourceLimitOptions } from "./source_limit.ts";

/**
 * How a {@linkcode Download} paces its requests.
 *
 * @example
 * ```ts
 * import { Bitfield } from "./bitfield.ts";
 * import { Download, type DownloadOptions } from "./download.ts";
 * const options: DownloadOptions = {
 *   pieceSize: 1 << 20,
 *   requestTimeoutMs: 10_000,
 *   // The number of sources kept busy is judged over periods of 200 ms or more.
 *   sourceLimit: { periodMs: 200 },
 * };
 * const download = new Download(new Bitfield(8), options);
 * ```
 */
export interface DownloadOptions {
  /** Bytes per piece (the last may be shorter): how many requests fit in flight depends on it. */
  pieceSize: number;
  /** A request unanswered for this long is given up (default 30,000 ms). */
  requestTimeoutMs?: number;
  /** How long a source that refused as busy is left alone (default 1,000 ms). */
  busyRestMs?: number;
  /**
   * Bytes asked for at once, of all sources together (default 8 MiB): enough to keep a fast link
   * busy, while the receiving workers' buffers grow with it.
   */
  bytesInFlight?: number;
  /** Numbers in [0, 1) that break ties between equally rare pieces (default `Math.random`). */
  random?: () => number;
  /**
   * How the number of sources kept busy is measured (see `SourceLimit` in `source_limit.ts`;
   * default: its defaults).
   */
  sourceLimit?: SourceLimitOptions;
}

/**
 * A piece asked of a peer.
 *
 * @example
 * ```ts
 * import type { PieceRequest } from "./download.ts";
 * const request: PieceRequest = { peer: "ada", piece: 3 };
 * ```
 */
export interface PieceRequest {
  peer: string;
  piece: number;
}

interface Source {
  /** The pieces it has. */
  bits: Bitfield;
  /** It refused as busy: nothing is asked of it before this time. */
  restUntil: number;
  /** Pieces it sent that were verified, this measuring period. */
  pieces: number;
  /** Pieces a ms it sent over the last period: the faster sources are kept busy first. */
  rate: number;
}

/** Fewest and most requests in flight to one source, whatever the piece size. */
const MIN_PER_SOURCE = 2;
const MAX_PER_SOURCE = 64;

/**
 * One file being fetched: its sources, the pieces they have, and the requests in flight.
 *
 * @example
 * ```ts
 * import { Bitfield } from "./bitfield.ts";
 * import { Download } from "./download.ts";
 * const download = new Download(new Bitfield(4), { pieceSize: 4 * 2 ** 20 });
 * download.setBitfield("ada", Bitfield.full(4));
 * const asks = download.next(0);
 * console.log(asks.length); // 2: two pieces of 4 MiB fill the 8 MiB in flight
 * download.answered("ada", asks[0].piece);
 * console.log(download.verified(asks[0].piece, "ada")); // [] (nobody else was asked for it)
 * console.log(download.sourcesInUse); // 1: every source, to begin with
 * ```
 */
export class Download {
  /** Pieces verified here. */
  readonly have: Bitfield;
  readonly #availability: Uint16Array;
  readonly #sources = new Map<string, Source>();
  readonly #requests = new RequestIndex();
  readonly #pieceSize: number;
  readonly #requestTimeoutMs: number;
  readonly #busyRestMs: number;
  readonly #bytesInFlight: number;
  readonly #random: () => number;
  readonly #limit: SourceLimit;
  /** The sources, fastest first (see {@linkcode next}); rebuilt when they change. */
  #ranked: string[] | null = null;

  /** A download of a file of `have.size` pieces, of which those in `have` are here already. */
  constructor(have: Bitfield, options: DownloadOptions) {
    this.have = have;
    this.#availability = new Uint16Array(have.size);
    this.#pieceSize = options.pieceSize;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#busyRestMs = options.busyRestMs ?? 1000;
    this.#bytesInFlight = options.bytesInFlight ?? 8 * 1024 * 1024;
    this.#random = options.random ?? Math.random;
    this.#limit = new SourceLimit(options.sourceLimit);
  }

  /** How many peers it is being fetched from. */
  get sourceCount(): number {
    return this.#sources.size;
  }

  /** True when `peer` is a source of this download. */
  hasSource(peer: string): boolean {
    return this.#sources.has(peer);
  }

  /** How many sources have `piece`. */
  availability(piece: number): number {
    return this.#availability[piece] ?? 0;
  }

  /** How many sources are kept busy now (see `SourceLimit`). */
  get sourcesInUse(): number {
    return this.#limit.of(this.#sources.size);
  }

  /** The pieces asked of `peer`, in the order asked. */
  requestsOf(peer: string): number[] {
    return [...this.#requests.ofPeer(peer)];
  }

  /** The peers `piece` is asked of. */
  askedFor(piece: number): string[] {
    return [...this.#requests.ofPiece(piece).keys()];
  }

  /** Every request in flight. */
  requests(): PieceRequest[] {
    return [...this.#requests.entries()].map(({ peer, piece }) => ({ peer, piece }));
  }

  /**
   * `peer` has the pieces of `bits` (a `have`), replacing what was known of it. It becomes a
   * source if it was not one; what was asked of it stays asked.
   */
  setBitfield(peer: string, bits: Bitfield): void {
    if (bits.size !== this.have.size) {
      throw new RangeError(`a bitfield of ${bits.size} pieces for a file of ${this.have.size}`);
    }
    const old = this.#sources.get(peer);
    if (old) this.#count(old.bits, -1);
    const { restUntil = -Infinity, pieces = 0, rate = 0 } = old ?? {};
    this.#sources.set(peer, { bits, restUntil, pieces, rate });
    this.#count(bits, 1);
    if (!old) this.#ranked = null;
  }

  /**
   * `peer` has come to have `piece` (a `got`); it becomes a source if it was not one. Returns
   * true when that is news (a piece out of range never is).
   */
  gotPiece(peer: string, piece: number): boolean {
    if (piece >= this.have.size) return false;
    let source = this.#sources.get(peer);
    if (!source) {
      source = { bits: new Bitfield(this.have.size), restUntil: -Infinity, pieces: 0, rate: 0 };
      this.#sources.set(peer, source);
      this.#ranked = null;
    }
    if (!source.bits.set(piece)) return false;
    this.#availability[piece]++;
    return true;
  }

  /**
   * `peer` refused to send `piece`: it is no longer asked of it. A busy peer has it but rests
   * until `now` + the busy rest; any other refusal means it lacks the piece. Returns false when
   * `peer` is no source.
   */
  refused(peer: string, piece: number, busy: boolean, now: number): boolean {
    const source = this.#sources.get(peer);
    if (!source) return false;
    this.#requests.delete(piece, peer);
    if (busy) source.restUntil = now + this.#busyRestMs;
    else if (source.bits.clear(piece)) this.#availability[piece]--;
    return true;
  }

  /**
   * `peer` is no source any more (it left, or was dropped): its pieces no longer count, and what
   * was asked of it can be asked of others. Returns false when it was no source.
   */
  removeSource(peer: string): boolean {
    const source = this.#sources.get(peer);
    if (!source) return false;
    this.#count(source.bits, -1);
    this.#requests.deletePeer(peer);
    this.#sources.delete(peer);
    this.#ranked = null;
    return true;
  }

  /**
   * What to ask for now. As many sources as the {@linkcode sourcesInUse} are kept busy, the
   * fastest of the last measuring period first; one resting after a busy refusal, or with nothing
   * to give, is passed over for the next. Each is asked for the pieces it should send next (the
   * rarest of all holders' first, through `pickPiece`), up to its share of the bytes in flight.
   * A source past the limit is asked for nothing more, and what it was asked still comes. Each
   * request is recorded as asked at `now`.
   */
  next(now: number): PieceRequest[] {
    const period = this.#limit.update(now, this.#sources.size);
    if (period > 0) this.#rank(period);
    const limit = this.#limit.of(this.#sources.size);
    const perSource = Math.max(
      MIN_PER_SOURCE,
      Math.min(MAX_PER_SOURCE, Math.floor(this.#bytesInFlight / this.#pieceSize / limit)),
    );
    const state: PickerState = {
      have: this.have,
      requested: this.#requests.byPiece,
      availability: this.#availability,
    };
    const asks: PieceRequest[] = [];
    let inUse = 0;
    for (const peer of this.#ranked ??= this.#byRate()) {
      if (inUse >= limit) break;
      const source = this.#sources.get(peer)!;
      if (now < source.restUntil) continue;
      while (this.#requests.ofPeer(peer).size < perSource) {
        const piece = pickPiece(state, peer, source.bits, this.#random());
        if (piece === null) break;
        this.#requests.add(piece, peer, now);
        asks.push({ peer, piece });
      }
      if (this.#requests.ofPeer(peer).size > 0) inUse++;
    }
    return asks;
  }

  /** `peer` answered the request for `piece` (with bytes good or bad): it is no longer asked. */
  answered(peer: string, piece: number): void {
    this.#requests.delete(piece, peer);
  }

  /**
   * `piece` was verified and stored here, sent by `from` (counted in the rates measured). Returns
   * the peers it is still asked of, which need not send it now (tell them), or null when it was
   * here already.
   */
  verified(piece: number, from: string): string[] | null {
    if (!this.have.set(piece)) return null;
    this.#limit.arrived();
    const source = this.#sources.get(from); // gone already, it may be
    if (source) source.pieces++;
    return this.#requests.deletePiece(piece);
  }

  /** Gives up the requests unanswered since `now` minus the timeout, and returns them. */
  expired(now: number): PieceRequest[] {
    const late: PieceRequest[] = [];
    for (const { peer, piece, since } of this.#requests.entries()) {
      if (now - since >= this.#requestTimeoutMs) late.push({ peer, piece });
    }
    for (const { peer, piece } of late) this.#requests.delete(piece, peer);
    return late;
  }

  /** A measuring period of `ms` ended: each source's rate is what it sent in it. */
  #rank(ms: number): void {
    for (const source of this.#sources.values()) {
      source.rate = source.pieces / ms;
      source.pieces = 0;
    }
    this.#ranked = null;
  }

  /** The sources, fastest first (the order they came in among equals). */
  #byRate(): string[] {
    return [...this.#sources.keys()].sort((a, b) =>
      this.#sources.get(b)!.rate - this.#sources.get(a)!.rate
    );
  }

  #count(bits: Bitfield, delta: 1 | -1): void {
    for (const piece of bits.pieces()) this.#availability[piece] += delta;
  }
}

/**
 * The relation "piece p is asked of peer q since t", indexed both ways: by piece (for the picker
 * and for cancels when a piece arrives) and by peer (for its share of the requests, and for when
 * it leaves). Every change goes through here, so the two views cannot disagree.
 */
class RequestIndex {
  readonly #byPiece = new Map<number, Map<string, number>>();
  readonly #byPeer = new Map<string, Set<number>>();

  /** Peers by piece, with when each was asked. */
  get byPiece(): ReadonlyMap<number, ReadonlyMap<string, number>> {
    return this.#byPiece;
  }

  ofPeer(peer: string): ReadonlySet<number> {
    return this.#byPeer.get(peer) ?? EMPTY_PIECES;
  }

  ofPiece(piece: number): ReadonlyMap<string, number> {
    return this.#byPiece.get(piece) ?? EMPTY_PEERS;
  }

  *entries(): Generator<{ peer: string; piece: number; since: number }> {
    for (const [piece, peers] of this.#byPiece) {
      for (const [peer, since] of peers) yield { peer, piece, since };
    }
  }

  add(piece: number, peer: string, since: number): void {
    let peers = this.#byPiece.get(piece);
    if (!peers) this.#byPiece.set(piece, peers = new Map());
    peers.set(peer, since);
    let pieces = this.#byPeer.get(peer);
    if (!pieces) this.#byPeer.set(peer, pieces = new Set());
    pieces.add(piece);
  }

  delete(piece: number, peer: string): void {
    const peers = this.#byPiece.get(piece);
    if (peers?.delete(peer) && peers.size === 0) this.#byPiece.delete(piece);
    const pieces = this.#byPeer.get(peer);
    if (pieces?.delete(piece) && pieces.size === 0) this.#byPeer.delete(peer);
  }

  /** Forgets every request for `piece`; returns the peers it was asked of. */
  deletePiece(piece: number): string[] {
    const peers = [...this.ofPiece(piece).keys()];
    for (const peer of peers) this.delete(piece, peer);
    return peers;
  }

  /** Forgets every request to `peer`. */
  deletePeer(peer: string): void {
    for (const piece of [...this.ofPeer(peer)]) this.delete(piece, peer);
  }
}

const EMPTY_PIECES: ReadonlySet<number> = new Set();
const EMPTY_PEERS: ReadonlyMap<string, number> = new Map();
