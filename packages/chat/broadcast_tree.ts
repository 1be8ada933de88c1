/**
 * A broadcast tree over a mesh (Plumtree: Leitão, Pereira and Rodrigues, 2007), one per stream (per
 * author and run), with anti-entropy on every new link. For each stream each neighbour is eager or
 * lazy (eager until pruned). A new message goes whole to the stream's eager neighbours and is only
 * announced to its lazy ones, in batches. A message that arrives twice prunes the link it came by
 * the second time, for its stream (both ends make it lazy), so each stream's eager links settle
 * into a tree rooted at its author and a message costs about one copy per peer instead of one per
 * link. (One tree for all authors would not settle: a link pruned for one author's messages cuts
 * another's shortest path, and grafts and prunes race each other without end.) Announcements name exactly the
 * messages a link did not carry whole (per stream, runs of numbers). A message announced and not
 * had after a short wait is missing: the peer grafts the link it heard of it on (makes it eager,
 * asks for it), then the next announcer, and the tree is whole again. Prunes that race each other
 * can leave a peer off the tree for a while; the announcements are what bring it back, so no
 * message is given up while some neighbour that announced it may still send it.
 *
 * When a link opens, each side sends a summary of what it has of every stream (see
 * `stream_log.ts`); each answers with the kept messages the other lacks, marked late. A peer passes
 * what is new to it on as any message, so after a partition heals every peer gets what was said on
 * the other side, exactly once, whether or not its own links changed.
 *
 * Pure logic: no sockets, no timers, no clock of its own. The chat runs it over a peer's
 * connections; the simulation in tests/ runs a thousand over an in-memory network.
 *
 * @module
 */
import { BoundedMap, BoundedSet } from "@meshtalk/core";
import { type Announcement, PendingAnnouncements } from "./announcements.ts";
import type { Numbered, StreamLog, StreamSummary } from "./stream_log.ts";

export type { Announcement } from "./announcements.ts";

/** What two ends of a link say to each other. */
export type TreeMessage<I> =
  /** A message, whole; `late` when it answers a summary (it was said a while ago). */
  | { t: "item"; item: I; late: boolean }
  /** The messages the sender had since its last announcement, per stream as runs of numbers. */
  | { t: "ihave"; have: Announcement[] }
  /** Make this link eager for these streams, and send these numbers of them. */
  | { t: "graft"; want: [stream: string, numbers: number[]][] }
  /** Make this link lazy for these streams: their messages arrive by another way. */
  | { t: "prune"; streams: string[] }
  /** What the sender has of every stream: send what it lacks. */
  | { t: "summary"; streams: StreamSummary[] };

/** How a {@linkcode BroadcastTree} reaches the world. */
export interface TreeOptions<I extends Numbered> {
  /** The log of what this peer has, and the messages it keeps to give to others. */
  log: StreamLog<I>;
  /** Sends `message` to each of `peers` (one or more neighbours). */
  send(peers: readonly string[], message: TreeMessage<I>): void;
  /** A message new to this peer, from a neighbour, to show. */
  deliver(item: I, from: string, late: boolean): void;
  /**
   * The copy of `item` to pass on one hop further, or null to pass it on no further (its hop
   * limit is reached). Called once per message, as it arrives.
   */
  forward(item: I): I | null;
  /** The time now, in ms. */
  now(): number;
  /** How long a message announced by a lazy link may be missing before that link is grafted. */
  graftAfterMs?: number;
  /** Most messages sent in answer to one summary (the latest of those lacking; default 1,000). */
  maxAnswer?: number;
  /** Most streams in a summary (default and most {@linkcode MAX_SUMMARY}). */
  maxSummary?: number;
}

/** Counters since the tree started. */
export interface TreeStats {
  /** Messages passed on whole (eager pushes and answers). */
  pushed: number;
  /** Announcements sent (one per batch per lazy link). */
  announced: number;
  /** Grafts sent: a tree link was missing, or an announced message did not come. */
  grafts: number;
  /** Prunes sent: a message arrived twice. */
  prunes: number;
  /** Copies of messages had already. */
  duplicates: number;
  /** Messages taken from answers to summaries (late). */
  late: number;
  /**
   * Missing messages no longer asked for: every neighbour that announced them was asked in vain
   * (they kept them no more). A new link's summary may still bring them, late.
   */
  abandoned: number;
}

/** Numbers of one stream taken from one announcement (the wire's runs may name more). */
const WANTED_PER_ANNOUNCEMENT = 1024;
/**
 * Tries for a missing message (one graft each, to the next neighbour that announced it; the k-th
 * try `graftAfterMs * 2^k` after it was first announced) before it is no longer asked for. It is
 * forgotten, not counted as had: a later announcement asks again, and a new link's summary answer
 * still brings it if anyone has it (a graft lost across a partition must not lose the message).
 */
const MAX_TRIES = 5;
/** Missing messages asked for at once: announcements cannot grow this without end. */
const MAX_WANTED = 16_384;
/** Streams whose tree (which links are lazy) is remembered: those used longest ago go first. */
const MAX_TREES = 4096;
/** Messages remembered as having come late: more than a log keeps to answer grafts with. */
const MAX_LATE = 4096;
/** Most numbers of one stream, and most streams, one graft asks for (the wire's bound). */
export const MAX_GRAFT = 64;
/** Most streams in a summary (the wire's bound). */
export const MAX_SUMMARY = 512;

interface Wanted {
  stream: string;
  n: number;
  since: number;
  /** Neighbours that announced it, in the order they did. */
  from: string[];
  tries: number;
}

/**
 * One peer's part of the broadcast tree.
 *
 * @example
 * ```ts
 * import { BroadcastTree } from "./broadcast_tree.ts";
 * import { StreamLog } from "./stream_log.ts";
 * const sent: string[] = [];
 * const tree = new BroadcastTree<{ stream: string; n: number }>({
 *   log: new StreamLog(),
 *   send: (peers, message) => sent.push(`${peers} ${message.t}`),
 *   deliver: () => {},
 *   forward: (item) => item,
 *   now: () => 0,
 * });
 * tree.join("b");
 * tree.publish({ stream: "a.1", n: 1 });
 * console.log(sent); // ["b summary", "b item"]
 * ```
 */
export class BroadcastTree<I extends Numbered> {
  readonly #o: Required<TreeOptions<I>>;
  readonly #neighbours = new Set<string>();
  /** Per stream: the neighbours it is lazy on (the others are eager). */
  readonly #lazy = new BoundedMap<string, Set<string>>(MAX_TREES);
  /**
   * Where a stream not seen before starts: the links any stream was last pruned on, less those
   * last grafted. A peer that says one line now and then starts on a tree, not a flood.
   */
  readonly #usuallyLazy = new Set<string>();
  /** Per lazy neighbour: what it has yet to be told. */
  readonly #pending = new PendingAnnouncements();
  readonly #wanted = new Map<string, Wanted>();
  /**
   * Messages that came late (`stream#n`): a graft is answered with them marked late too, so that
   * a message said across a partition is late wherever it goes, whichever way it takes.
   */
  readonly #cameLate = new BoundedSet<string>(MAX_LATE);
  readonly #stats: TreeStats = {
    pushed: 0,
    announced: 0,
    grafts: 0,
    prunes: 0,
    duplicates: 0,
    late: 0,
    abandoned: 0,
  };

  /** A tree with no neighbours yet. */
  constructor(options: TreeOptions<I>) {
    this.#o = { graftAfterMs: 200, maxAnswer: 1000, maxSummary: MAX_SUMMARY, ...options };
  }

  /** A new neighbour: eager at first, and sent a summary so it can send what this peer lacks. */
  join(peer: string): void {
    this.#neighbours.add(peer);
    this.#usuallyLazy.delete(peer);
    for (const lazy of this.#lazy.values()) lazy.delete(peer);
    this.#o.send([peer], { t: "summary", streams: this.#o.log.summary(this.#o.maxSummary) });
  }

  /** A neighbour gone. */
  leave(peer: string): void {
    this.#neighbours.delete(peer);
    this.#usuallyLazy.delete(peer);
    for (const lazy of this.#lazy.values()) lazy.delete(peer);
    this.#pending.drop(peer);
    for (const wanted of this.#wanted.values()) {
      const at = wanted.from.indexOf(peer);
      if (at >= 0) wanted.from.splice(at, 1);
    }
  }

  /** Sends a message written here to every neighbour (whole to eager ones). */
  publish(item: I): void {
    this.#o.log.add(item);
    this.#o.log.keep(item);
    this.#push(item, null, false);
  }

  /**
   * True if `item` is had already: a caller checks this before it spends anything (a signature
   * check) on a message, then hands it to {@linkcode receive} either way.
   */
  has(item: I): boolean {
    return this.#o.log.has(item.stream, item.n);
  }

  /**
   * Takes a message from neighbour `from`. An `item` must have passed every check the app makes
   * (or be a duplicate, see {@linkcode has}): it is delivered and passed on if new.
   */
  receive(from: string, message: TreeMessage<I>): void {
    switch (message.t) {
      case "item":
        return this.#onItem(from, message.item, message.late);
      case "ihave":
        return this.#onIHave(from, message.have);
      case "graft":
        return this.#onGraft(from, message.want);
      case "prune":
        if (!this.#neighbours.has(from)) return;
        for (const stream of message.streams) this.#lazyOn(stream).add(from);
        this.#usuallyLazy.add(from);
        return;
      case "summary":
        return this.#onSummary(from, message.streams);
    }
  }

  /**
   * Sends the announcements waiting for each lazy link, and grafts links whose announced messages
   * did not come in time. Call it every ~100 ms.
   */
  tick(): void {
    for (const peer of this.#pending.peers()) this.#announce(peer);
    const now = this.#o.now();
    const grafts = new Map<string, Map<string, number[]>>();
    for (const [key, wanted] of this.#wanted) {
      if (this.#o.log.has(wanted.stream, wanted.n)) {
        this.#wanted.delete(key);
        continue;
      }
      // Tries back off: a neighbour slow to answer is not asked again and again.
      if (now - wanted.since < this.#o.graftAfterMs * 2 ** wanted.tries) continue;
      if (wanted.tries >= Math.max(MAX_TRIES, wanted.from.length) || wanted.from.length === 0) {
        // Asked of every neighbour that announced it, or they all left: asking again would only
        // bring the same answer. Forgotten, not counted as had (see MAX_TRIES).
        this.#wanted.delete(key);
        this.#stats.abandoned++;
        continue;
      }
      // Each try asks the next neighbour that announced it.
      const peer = wanted.from[wanted.tries % wanted.from.length];
      let streams = grafts.get(peer);
      if (!streams) grafts.set(peer, streams = new Map());
      let numbers = streams.get(wanted.stream);
      if (!numbers) {
        if (streams.size >= MAX_GRAFT) continue; // asked at the next tick
        streams.set(wanted.stream, numbers = []);
      }
      if (numbers.length >= MAX_GRAFT) continue;
      numbers.push(wanted.n);
      wanted.tries++;
    }
    for (const [peer, streams] of grafts) {
      for (const stream of streams.keys()) this.#setEager(peer, stream);
      this.#o.send([peer], { t: "graft", want: [...streams] });
      this.#stats.grafts++;
    }
  }

  /** Neighbours messages of `stream` go to whole. */
  eagerFor(stream: string): ReadonlySet<string> {
    const lazy = this.#lazy.get(stream) ?? this.#usuallyLazy;
    return new Set([...this.#neighbours].filter((peer) => !lazy?.has(peer)));
  }

  /** Neighbours messages of `stream` are only announced to. */
  lazyFor(stream: string): ReadonlySet<string> {
    return new Set(this.#lazy.get(stream) ?? this.#usuallyLazy);
  }

  /** Counters since the tree started. */
  stats(): TreeStats {
    return { ...this.#stats };
  }

  #onItem(from: string, item: I, late: boolean): void {
    if (!this.#o.log.add(item)) {
      this.#stats.duplicates++;
      // It came another way first: this link need not carry this stream's messages whole.
      // Pruned even if this end has it lazy already: the other end, which pushed it whole, does
      // not (a stream new to both started each on its own guess). (Not when it answers a
      // summary: answers do not travel the tree.)
      if (!late && this.#neighbours.has(from)) {
        this.#lazyOn(item.stream).add(from);
        this.#usuallyLazy.add(from);
        this.#o.send([from], { t: "prune", streams: [item.stream] });
        this.#stats.prunes++;
      }
      return;
    }
    const key = `${item.stream}#${item.n}`;
    // Those that announced it have it: sent it whole, they would prune this link. (Grafts to two
    // neighbours at once, each answered and passed on to the other, used to leave a peer off the
    // tree, every message after that grafted again.)
    const holders = this.#wanted.get(key)?.from;
    this.#wanted.delete(key);
    if (late) {
      this.#stats.late++;
      this.#cameLate.add(key);
    }
    const onward = this.#o.forward(item);
    // Kept as it goes on, so that answers and grafts send what a relay would.
    if (onward) this.#o.log.keep(onward);
    this.#o.deliver(item, from, late);
    if (onward) this.#push(onward, from, late, holders);
  }

  #push(item: I, from: string | null, late: boolean, holders: string[] = []): void {
    const lazy = this.#lazyOn(item.stream);
    const to: string[] = [];
    for (const peer of this.#neighbours) {
      if (peer === from || holders.includes(peer)) continue;
      if (lazy?.has(peer)) {
        const full = this.#pending.note(peer, item);
        if (full) this.#announce(peer, full);
      } else to.push(peer);
    }
    if (to.length > 0) {
      this.#o.send(to, { t: "item", item, late });
      this.#stats.pushed += to.length;
    }
  }

  /** The neighbours `stream` is lazy on, kept (touched) as a stream in use. */
  #lazyOn(stream: string): Set<string> {
    let lazy = this.#lazy.get(stream);
    if (!lazy) this.#lazy.set(stream, lazy = new Set(this.#usuallyLazy));
    else this.#lazy.touch(stream);
    return lazy;
  }

  /** Sends lazy neighbour `peer` what waits to be announced to it. */
  #announce(peer: string, have = this.#pending.take(peer)): void {
    if (!have) return;
    this.#o.send([peer], { t: "ihave", have });
    this.#stats.announced++;
  }

  /** Notes what a lazy neighbour had that this peer lacks: it is wanted, from that neighbour. */
  #onIHave(from: string, have: Announcement[]): void {
    const now = this.#o.now();
    for (const [stream, runs] of have) {
      let budget = WANTED_PER_ANNOUNCEMENT;
      for (const [first, last] of runs) {
        if (budget <= 0 || this.#wanted.size >= MAX_WANTED) break;
        for (const n of this.#o.log.missing(stream, first, last, budget)) {
          budget--;
          const key = `${stream}#${n}`;
          const wanted = this.#wanted.get(key);
          if (wanted) {
            if (!wanted.from.includes(from)) wanted.from.push(from);
          } else if (this.#wanted.size < MAX_WANTED) {
            this.#wanted.set(key, { stream, n, since: now, from: [from], tries: 0 });
          }
        }
      }
    }
  }

  #onGraft(from: string, want: [string, number[]][]): void {
    for (const [stream, numbers] of want) {
      this.#setEager(from, stream);
      for (const n of numbers) {
        const item = this.#o.log.get(stream, n);
        if (!item) continue;
        this.#o.send([from], { t: "item", item, late: this.#cameLate.has(`${stream}#${n}`) });
        this.#stats.pushed++;
      }
    }
  }

  #onSummary(from: string, streams: StreamSummary[]): void {
    for (const item of this.#o.log.lacking(streams, this.#o.maxAnswer)) {
      this.#o.send([from], { t: "item", item, late: true });
      this.#stats.pushed++;
    }
  }

  #setEager(peer: string, stream: string): void {
    if (!this.#neighbours.has(peer)) return;
    this.#usuallyLazy.delete(peer);
    const lazy = this.#lazyOn(stream);
    if (!lazy.has(peer)) return;
    // What was noted for it as a lazy link went neither whole nor announced: announced now, or
    // it would go nowhere.
    this.#announce(peer);
    lazy.delete(peer);
  }
}
