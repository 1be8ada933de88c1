/**
 * What a peer keeps of the announcements it hears on the LAN, and what it lets through: packets
 * are read at a bounded rate (per sender and in all) before any is checked, only announcements of
 * this peer's room are taken, one sending address can hold only a few ids, and the table of peers
 * heard is bounded and forgets those no longer heard. A flood of forged announcements therefore
 * costs a bounded amount of CPU and memory whatever it holds. No sockets here: `discovery.ts`
 * feeds it what it receives.
 *
 * @module
 */
import { type Announcement, decodeAnnouncement, MAX_ANNOUNCEMENT_BYTES } from "./announcement.ts";
import { BoundedMap } from "./bounded.ts";

/** An announcement heard, with the address it came from: the peer listens on `host:port`. */
export interface Heard extends Announcement {
  /** The IPv4 address the announcement came from. */
  host: string;
}

/** How much {@linkcode HeardPeers} takes. */
export interface HeardLimits {
  /** Packets read a second, from every sender together (default 200); the rest are dropped unread. */
  readsPerSecond: number;
  /** Packets read a second from one sending address (default 20). */
  readsPerSenderPerSecond: number;
  /** Peer ids known at once from one sending address (default 8). */
  idsPerSender: number;
  /** Peer ids known at once in all (default 256): past it, the one heard longest ago goes. */
  maxKnown: number;
  /** A peer not heard again for this long is forgotten, in ms (default 30,000). */
  forgetAfterMs: number;
}

/** The defaults of {@linkcode HeardLimits}. */
export const HEARD_LIMITS: Readonly<HeardLimits> = {
  readsPerSecond: 200,
  readsPerSenderPerSecond: 20,
  idsPerSender: 8,
  maxKnown: 256,
  forgetAfterMs: 30_000,
};

/** What {@linkcode HeardPeers} has taken and dropped since it was made. */
export interface HeardStats {
  /** Announcements of this room taken (a peer heard again counts again). */
  heard: number;
  /** Of them, the ones of a peer the table did not hold (new, or back after it was forgotten). */
  added: number;
  /** Packets dropped unread: over the rate of their sender or of all senders. */
  overRate: number;
  /** Packets dropped as not announcements of this room: oversized, malformed, another room's. */
  invalid: number;
  /** Announcements dropped because their sending address holds its quota of ids already. */
  overQuota: number;
  /** Peers of this room known now. */
  known: number;
}

/** A rate counted in whole seconds. */
interface Window {
  second: number;
  reads: number;
}

/**
 * The peers of one room heard on the LAN.
 *
 * @example
 * ```ts
 * import { encodeAnnouncement, roomKey } from "./announcement.ts";
 * import { HeardPeers } from "./heard_peers.ts";
 * const key = roomKey("friends");
 * const heard = new HeardPeers("00".repeat(16), key);
 * const bytes = encodeAnnouncement({ id: "ab".repeat(16), port: 9000, apps: ["chat"] }, key);
 * console.log(heard.read(bytes, "10.0.0.7", 0)?.host); // "10.0.0.7"
 * console.log(heard.read(new Uint8Array(600), "10.0.0.7", 0)); // null: not an announcement
 * console.log(heard.stats().heard, heard.stats().invalid); // 1 1
 * ```
 */
export class HeardPeers {
  readonly #myId: string;
  readonly #key: Uint8Array;
  readonly #limits: HeardLimits;
  /** Known peers by id, the one heard longest ago first. */
  readonly #known = new Map<string, { heard: Heard; at: number }>();
  /** How many of the known ids each sending address holds. */
  readonly #idsBySender = new Map<string, number>();
  readonly #all: Window = { second: -1, reads: 0 };
  readonly #bySender: BoundedMap<string, Window>;
  readonly #stats: Omit<HeardStats, "known"> = {
    heard: 0,
    added: 0,
    overRate: 0,
    invalid: 0,
    overQuota: 0,
  };

  /** The table of a peer of id `myId` (its own announcements are ignored) in the room of `key`. */
  constructor(myId: string, key: Uint8Array, limits: Partial<HeardLimits> = {}) {
    this.#myId = myId;
    this.#key = key;
    this.#limits = { ...HEARD_LIMITS, ...limits };
    // The senders whose rate is counted: as many as there can be known ids, oldest forgotten.
    this.#bySender = new BoundedMap(this.#limits.maxKnown);
  }

  /**
   * Takes the packet `bytes` sent from address `from` at `now` (ms, on any steady clock): the
   * peer it announces, or null when it is dropped (see {@linkcode HeardStats}) or is this peer's
   * own. A peer heard again is returned again, so that whoever keeps its address can refresh it.
   */
  read(bytes: Uint8Array, from: string, now: number): Heard | null {
    if (bytes.length > MAX_ANNOUNCEMENT_BYTES) return this.#drop("invalid");
    if (!this.#withinRate(from, now)) return this.#drop("overRate");
    const announcement = decodeAnnouncement(bytes, this.#key);
    if (!announcement) return this.#drop("invalid");
    if (announcement.id === this.#myId) return null; // our own, looped back
    this.#forget(now);
    const known = this.#known.get(announcement.id);
    const fromElsewhere = known?.heard.host !== from;
    if (fromElsewhere && (this.#idsBySender.get(from) ?? 0) >= this.#limits.idsPerSender) {
      return this.#drop("overQuota");
    }
    if (known) this.#remove(announcement.id);
    else if (this.#known.size >= this.#limits.maxKnown) {
      this.#remove(this.#known.keys().next().value!);
    }
    if (!known) this.#stats.added++;
    const heard = { ...announcement, host: from };
    this.#known.set(heard.id, { heard, at: now });
    this.#idsBySender.set(from, (this.#idsBySender.get(from) ?? 0) + 1);
    this.#stats.heard++;
    return heard;
  }

  /** The peers known now, the one heard longest ago first. */
  known(): Heard[] {
    return [...this.#known.values()].map((entry) => entry.heard);
  }

  /** Counters since the table was made. */
  stats(): HeardStats {
    return { ...this.#stats, known: this.#known.size };
  }

  #drop(why: "overRate" | "invalid" | "overQuota"): null {
    this.#stats[why]++;
    return null;
  }

  /** Counts a read from `from`; false when it is over its sender's rate or over the rate of all. */
  #withinRate(from: string, now: number): boolean {
    const second = Math.floor(now / 1000);
    let sender = this.#bySender.get(from);
    if (!sender) this.#bySender.set(from, sender = { second, reads: 0 });
    if (sender.second !== second) [sender.second, sender.reads] = [second, 0];
    if (++sender.reads > this.#limits.readsPerSenderPerSecond) return false;
    if (this.#all.second !== second) [this.#all.second, this.#all.reads] = [second, 0];
    return ++this.#all.reads <= this.#limits.readsPerSecond;
  }

  /** Forgets the peers not heard for `forgetAfterMs`: they are the first in the map. */
  #forget(now: number): void {
    for (const [id, entry] of this.#known) {
      if (now - entry.at < this.#limits.forgetAfterMs) break;
      this.#remove(id);
    }
  }

  #remove(id: string): void {
    const host = this.#known.get(id)!.heard.host;
    this.#known.delete(id);
    const left = this.#idsBySender.get(host)! - 1;
    if (left === 0) this.#idsBySender.delete(host);
    else this.#idsBySender.set(host, left);
  }
}
