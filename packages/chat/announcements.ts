/**
 * What a peer has yet to announce to each lazy neighbour: per stream, the runs of numbers of the
 * messages it had and did not send that neighbour whole. A stream's messages mostly come in order,
 * so its runs stay few; a list that reaches the wire's bounds is handed out at once.
 *
 * @module
 */
import type { Numbered } from "./stream_log.ts";

/** Of one stream, the runs of numbers `[from, to]` (inclusive) a neighbour has lately had. */
export type Announcement = [stream: string, runs: [from: number, to: number][]];

/** Most streams in one announcement (the wire's bound). */
export const MAX_ANNOUNCED_STREAMS = 512;
/** Most runs of one stream in one announcement (the wire's bound). */
export const MAX_RUNS = 64;

/**
 * Announcements waiting, per neighbour.
 *
 * @example
 * ```ts
 * import { PendingAnnouncements } from "./announcements.ts";
 * const pending = new PendingAnnouncements();
 * for (const n of [1, 2, 3, 5]) pending.note("b", { stream: "a.1", n });
 * console.log(JSON.stringify(pending.take("b"))); // [["a.1",[[1,3],[5,5]]]]
 * ```
 */
export class PendingAnnouncements {
  readonly #byPeer = new Map<string, Map<string, [number, number][]>>();

  /**
   * Notes `item` for `peer`. Returns the announcement to send now when the list was full (the
   * item is noted in a new one), else null.
   */
  note(peer: string, item: Numbered): Announcement[] | null {
    let streams = this.#byPeer.get(peer);
    let runs = streams?.get(item.stream);
    const last = runs?.at(-1);
    const extends_ = last !== undefined && item.n === last[1] + 1;
    const full = runs
      ? !extends_ && runs.length >= MAX_RUNS
      : (streams?.size ?? 0) >= MAX_ANNOUNCED_STREAMS;
    const out = full ? this.take(peer) : null;
    if (full) streams = runs = undefined;
    if (!streams) this.#byPeer.set(peer, streams = new Map());
    if (!runs) streams.set(item.stream, runs = []);
    if (extends_ && !full) last![1] = item.n;
    else runs.push([item.n, item.n]);
    return out;
  }

  /** What waits for `peer`, taken (null when nothing does). */
  take(peer: string): Announcement[] | null {
    const streams = this.#byPeer.get(peer);
    this.#byPeer.delete(peer);
    return streams && streams.size > 0 ? [...streams] : null;
  }

  /** Forgets what waits for `peer` (it left). */
  drop(peer: string): void {
    this.#byPeer.delete(peer);
  }

  /** The neighbours something waits for. */
  peers(): string[] {
    return [...this.#byPeer.keys()];
  }
}
