/**
 * What a peer has seen of each stream of messages, and the recent messages it keeps to give to
 * others. A stream is what one author says in one run (its id and the time it started); its
 * messages are numbered 1, 2, 3... So what a peer has of a stream fits in two numbers and a few
 * exceptions: everything up to `base`, and a small set of numbers above it. That is the compact
 * summary two peers exchange to find what each lacks (anti-entropy), and what a lazy link announces.
 *
 * @module
 */
import { BoundedMap } from "@meshtalk/core";

/** A message as the log knows it: which stream, which number in it. */
export interface Numbered {
  /** The stream: its author and when the author started (see {@linkcode streamOf}). */
  stream: string;
  /** 1 for a stream's first message, then one more for each. */
  n: number;
}

/** What a peer has of one stream: `[stream, base, max]`: all of 1..base, and some up to max. */
export type StreamSummary = [stream: string, base: number, max: number];

/** Options of a {@linkcode StreamLog}. */
export interface StreamLogOptions {
  /** Messages kept to give to others (default 1,000): the oldest go first. */
  maxItems?: number;
  /** Streams remembered (default 4,096): those heard of longest ago go first. */
  maxStreams?: number;
  /**
   * Numbers held above a stream's base before the lowest gap is given up (default 1,024): a
   * message lost everywhere must not grow the log without end.
   */
  maxGaps?: number;
}

interface StreamState {
  /** Every number up to here is had (or given up). */
  base: number;
  /** Numbers had above `base`. */
  above: Set<number>;
  /** The highest number had. */
  max: number;
}

/**
 * The stream of `author` started at `epoch` (ms since the Unix epoch): `<author>.<epoch>`.
 *
 * @example
 * ```ts
 * import { streamOf } from "./stream_log.ts";
 * console.log(streamOf("4f1c", 1700000000000)); // "4f1c.1700000000000"
 * ```
 */
export function streamOf(author: string, epoch: number): string {
  return `${author}.${epoch}`;
}

/**
 * Per-stream counters and a bounded store of recent messages.
 *
 * @example
 * ```ts
 * import { StreamLog } from "./stream_log.ts";
 * const log = new StreamLog<{ stream: string; n: number }>();
 * log.add({ stream: "a.1", n: 1 });
 * log.add({ stream: "a.1", n: 3 });
 * log.keep({ stream: "a.1", n: 3 });
 * console.log(log.has("a.1", 2), log.summary()); // false [["a.1", 1, 3]]
 * ```
 */
export class StreamLog<I extends Numbered> {
  readonly #streams: BoundedMap<string, StreamState>;
  readonly #items: BoundedMap<string, I>;
  readonly #maxGaps: number;

  /** An empty log. */
  constructor(options: StreamLogOptions = {}) {
    this.#streams = new BoundedMap(options.maxStreams ?? 4096);
    this.#items = new BoundedMap(options.maxItems ?? 1000);
    this.#maxGaps = options.maxGaps ?? 8192;
  }

  /** True if message `n` of `stream` was had (or given up). */
  has(stream: string, n: number): boolean {
    const state = this.#streams.get(stream);
    return state !== undefined && (n <= state.base || state.above.has(n));
  }

  /** Records that message `n` of `stream` is had; returns false if it was had already. */
  add(item: Numbered): boolean {
    let state = this.#streams.get(item.stream);
    if (!state) this.#streams.set(item.stream, state = { base: 0, above: new Set(), max: 0 });
    else this.#streams.touch(item.stream);
    if (item.n <= state.base || state.above.has(item.n)) return false;
    state.max = Math.max(state.max, item.n);
    if (item.n === state.base + 1) {
      state.base++;
      while (state.above.delete(state.base + 1)) state.base++;
    } else {
      state.above.add(item.n);
      if (state.above.size > this.#maxGaps) this.#giveUpLowestGap(state);
    }
    return true;
  }

  /** Keeps `item` to give to others, in place of any copy kept before. */
  keep(item: I): void {
    this.#items.set(`${item.stream}#${item.n}`, item);
  }

  /** What this peer has of `stream`. */
  summaryOf(stream: string): StreamSummary {
    const state = this.#streams.get(stream);
    return [stream, state?.base ?? 0, state?.max ?? 0];
  }

  /**
   * What this peer has of every stream, those heard of most recently first, at most `limit`
   * (default all): what a peer sends a new neighbour so it can be sent what it lacks.
   */
  summary(limit = Infinity): StreamSummary[] {
    const out: StreamSummary[] = [];
    const streams = [...this.#streams].reverse();
    for (const [stream, state] of streams) {
      if (out.length >= limit) break;
      out.push([stream, state.base, state.max]);
    }
    return out;
  }

  /**
   * The kept messages a peer whose summary is `theirs` lacks, oldest first: those of streams it
   * has not heard of, and those above its base of the others; the latest `limit` of them.
   */
  lacking(theirs: StreamSummary[], limit = Infinity): I[] {
    const bases = new Map<string, number>();
    for (const [stream, base] of theirs) bases.set(stream, base);
    const out: I[] = [];
    for (const item of this.#items.values()) {
      if (item.n > (bases.get(item.stream) ?? 0)) out.push(item);
    }
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  /** The messages kept, oldest first. */
  keptItems(): I[] {
    return [...this.#items.values()];
  }

  /** Kept message `n` of `stream`, if it is still kept. */
  get(stream: string, n: number): I | undefined {
    return this.#items.get(`${stream}#${n}`);
  }

  /** Numbers of `stream` from `from` to `to` (inclusive) not had, in order, at most `limit`. */
  missing(stream: string, from: number, to: number, limit = Infinity): number[] {
    const out: number[] = [];
    const state = this.#streams.get(stream);
    // Everything up to the base is had: start past it.
    for (let n = Math.max(1, from, (state?.base ?? 0) + 1); n <= to && out.length < limit; n++) {
      if (!state?.above.has(n)) out.push(n);
    }
    return out;
  }

  /** Streams remembered. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Messages kept. */
  get kept(): number {
    return this.#items.size;
  }

  /** The lowest gap is taken as lost for good: the base moves past it to the next gap. */
  #giveUpLowestGap(state: StreamState): void {
    let lowest = Infinity;
    for (const n of state.above) lowest = Math.min(lowest, n);
    state.base = lowest;
    state.above.delete(lowest);
    while (state.above.delete(state.base + 1)) state.base++;
  }
}
