/**
 * A broadcast tree over a mesh (Plumtree: Leitão, Pereira and Rodrigues, 2007), with anti-entropy
 * on every new link. Each neighbour is eager or lazy. A new message goes whole to the eager ones
 * and is only announced to the lazy ones, in batches. A message that arrives twice prunes the link
 * it came by the second time (both ends make it lazy), so the eager links settle into a tree and a
 * message costs about one copy per peer instead of one per link. When a tree link dies, the
 * announcements on lazy links show what did not arrive: after a short wait the peer grafts the link
 * it heard of the message on (makes it eager, asks for what is missing), and the tree is whole again.
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
import type { Numbered, StreamLog, StreamSummary } from "./stream_log.ts";

/** What two ends of a link say to each other. */
export type TreeMessage<I> =
  /** A message, whole; `late` when it answers a summary (it was said a while ago). */
  | { t: "item"; item: I; late: boolean }
  /** What the sender has of each stream that moved on since its last announcement. */
  | { t: "ihave"; have: StreamSummary[] }
  /** Make this link eager, and send these numbers of these streams. */
  | { t: "graft"; want: [stream: string, numbers: number[]][] }
  /** Make this link lazy: its messages arrive by another way. */
  | { t: "prune" }
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
}

/** Holes of one stream taken from one announcement, the lowest first (the rest come later). */
const HOLES_PER_ANNOUNCEMENT = 256;
/**
 * How long a hole is asked for before it is given up as lost: no neighbour that announced it
 * could send it. The log then counts it as had, so that it is not asked for again and again.
 */
const GIVE_UP_MS = 30_000;
/**
 * Grafts sent for one hole before asking stops: the neighbours asked did not keep it (it is older
 * than what they keep), and those that announced it too most likely keep no more. The hole is
 * forgotten, not counted as had: a later announcement asks again, and a new link's summary answer
 * still brings it if anyone has it (a graft lost across a partition must not lose the message).
 * Without this, a peer that missed many old messages (one that restarted) asks for each every
 * `graftAfterMs` until {@linkcode GIVE_UP_MS}.
 */
const MAX_TRIES = 3;
/** Holes asked for at once: announcements cannot grow this without end. */
const MAX_WANTED = 4096;
/** Most numbers of one stream, and most streams, one graft asks for (the wire's bound). */
export const MAX_GRAFT = 64;
/** Most streams in a summary, the most recently heard of (the wire's bound). */
export const MAX_SUMMARY = 512;
/** Streams whose last arrival is remembered. */
const MAX_FLOWING = 4096;
/** Messages remembered as having come late: more than a log keeps to answer grafts with. */
const MAX_LATE = 4096;

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
  readonly #eager = new Set<string>();
  readonly #lazy = new Set<string>();
  /** Per lazy neighbour: the streams that moved on since it was last told. */
  readonly #toAnnounce = new Map<string, Set<string>>();
  readonly #wanted = new Map<string, Wanted>();
  /** When a message of each stream last arrived: a stream still flowing is not grafted. */
  readonly #lastArrival = new BoundedMap<string, number>(MAX_FLOWING);
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
  };

  /** A tree with no neighbours yet. */
  constructor(options: TreeOptions<I>) {
    this.#o = { graftAfterMs: 500, maxAnswer: 1000, maxSummary: MAX_SUMMARY, ...options };
  }

  /** A new neighbour: eager at first, and sent a summary so it can send what this peer lacks. */
  join(peer: string): void {
    this.#eager.add(peer);
    this.#lazy.delete(peer);
    this.#o.send([peer], { t: "summary", streams: this.#o.log.summary(this.#o.maxSummary) });
  }

  /** A neighbour gone. */
  leave(peer: string): void {
    this.#eager.delete(peer);
    this.#lazy.delete(peer);
    this.#toAnnounce.delete(peer);
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
        if (this.#eager.delete(from)) this.#lazy.add(from);
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
    for (const [peer, streams] of this.#toAnnounce) {
      if (streams.size === 0) continue;
      const have: StreamSummary[] = [];
      for (const stream of streams) {
        if (have.length === MAX_SUMMARY) break; // the rest at the next tick
        have.push(this.#o.log.summaryOf(stream));
        streams.delete(stream);
      }
      this.#o.send([peer], { t: "ihave", have });
      this.#stats.announced++;
    }
    const now = this.#o.now();
    const grafts = new Map<string, Map<string, number[]>>();
    for (const [key, wanted] of this.#wanted) {
      if (this.#o.log.has(wanted.stream, wanted.n)) {
        this.#wanted.delete(key);
        continue;
      }
      if (now - wanted.since > GIVE_UP_MS) {
        this.#wanted.delete(key);
        this.#o.log.add(wanted); // lost: asking again would only bring the same answer
        continue;
      }
      // Asking stops once the answer to the last try would have come (by when the next was due).
      const tried = wanted.tries >= MAX_TRIES &&
        now - wanted.since >= this.#o.graftAfterMs * (wanted.tries + 1);
      if (tried) {
        this.#wanted.delete(key);
        continue;
      }
      if (wanted.from.length === 0) {
        this.#wanted.delete(key); // everyone who had it left; a new link's summary may bring it
        continue;
      }
      if (now - wanted.since < this.#o.graftAfterMs * (wanted.tries + 1)) continue;
      // A stream that is still arriving is only queued somewhere on its way (its messages travel
      // one path, in order): a graft now would only bring duplicates. One that stalled lost its
      // way, and is grafted.
      const last = this.#lastArrival.get(wanted.stream) ?? -Infinity;
      if (now - last < this.#o.graftAfterMs) continue;
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
      this.#setEager(peer);
      this.#o.send([peer], { t: "graft", want: [...streams] });
      this.#stats.grafts++;
    }
  }

  /** Neighbours messages go to whole. */
  get eager(): ReadonlySet<string> {
    return this.#eager;
  }

  /** Neighbours messages are only announced to. */
  get lazy(): ReadonlySet<string> {
    return this.#lazy;
  }

  /** Counters since the tree started. */
  stats(): TreeStats {
    return { ...this.#stats };
  }

  #onItem(from: string, item: I, late: boolean): void {
    if (!this.#o.log.add(item)) {
      this.#stats.duplicates++;
      // It came another way first: this link need not carry whole messages. (Not when it answers
      // a summary: answers do not travel the tree.)
      if (!late && this.#eager.has(from)) {
        this.#eager.delete(from);
        this.#lazy.add(from);
        this.#o.send([from], { t: "prune" });
        this.#stats.prunes++;
      }
      return;
    }
    const key = `${item.stream}#${item.n}`;
    this.#wanted.delete(key);
    this.#lastArrival.set(item.stream, this.#o.now());
    this.#lastArrival.touch(item.stream);
    if (late) {
      this.#stats.late++;
      this.#cameLate.add(key);
    }
    const onward = this.#o.forward(item);
    // Kept as it goes on, so that answers and grafts send what a relay would.
    if (onward) this.#o.log.keep(onward);
    this.#o.deliver(item, from, late);
    if (onward) this.#push(onward, from, late);
  }

  #push(item: I, from: string | null, late: boolean): void {
    const to = [...this.#eager].filter((peer) => peer !== from);
    if (to.length > 0) {
      this.#o.send(to, { t: "item", item, late });
      this.#stats.pushed += to.length;
    }
    for (const peer of this.#lazy) {
      if (peer === from) continue;
      let streams = this.#toAnnounce.get(peer);
      if (!streams) this.#toAnnounce.set(peer, streams = new Set());
      streams.add(item.stream);
    }
  }

  /**
   * Notes what a lazy neighbour has and this peer lacks: the holes up to its base (it has all of
   * those), the lowest first, and its highest. Not the numbers between: it may lack them too, and
   * an author that skips numbers must not set off grafts for messages nobody has.
   */
  #onIHave(from: string, have: StreamSummary[]): void {
    const now = this.#o.now();
    for (const [stream, base, max] of have) {
      const [, myBase] = this.#o.log.summaryOf(stream);
      const holes = this.#o.log.missing(stream, myBase + 1, base, HOLES_PER_ANNOUNCEMENT);
      if (!this.#o.log.has(stream, max)) holes.push(max);
      for (const n of holes) {
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

  #onGraft(from: string, want: [string, number[]][]): void {
    this.#setEager(from);
    for (const [stream, numbers] of want) {
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

  #setEager(peer: string): void {
    if (!this.#eager.has(peer) && !this.#lazy.has(peer)) return; // not a neighbour (any more)
    this.#lazy.delete(peer);
    this.#eager.add(peer);
    this.#toAnnounce.delete(peer);
  }
}
