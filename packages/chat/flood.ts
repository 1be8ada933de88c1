/**
 * The flood: every say goes to every neighbour, and every peer passes a new say on to its
 * neighbours but the one it came from, so each reaches every peer exactly once on any topology,
 * cycles included. Copies already seen are dropped unchecked; new says are checked, then relayed
 * and handed on in the order they arrived.
 *
 * The decision of where a say goes next is {@linkcode Flood.send} and `#relay`, and nothing
 * else: a broadcast tree (eager push on some links, announcements on the others) replaces those
 * two and keeps the rest.
 *
 * @module
 */
import { type AppChannel, bytesEqual, type PeerInfo } from "@meshtalk/core";
import type { Receiving } from "./checks.ts";
import { signedBytes, wellFormed } from "./signing.ts";
import type { ChatSchema, ChatWireMessage } from "./wire.ts";

/** What a {@linkcode Flood} needs besides what it shares with history. */
export interface FloodOptions extends Receiving {
  /** Where says go to neighbours. */
  channel: Pick<AppChannel<ChatSchema>, "broadcast">;
  /** Where overload is reported, once. */
  log: (line: string) => void;
  /** Called with each new, genuine say once it is relayed, in arrival order. */
  onSay: (say: ChatWireMessage, from: PeerInfo) => void;
}

/** What a {@linkcode Flood} has done. */
export interface FloodCounts {
  /** Says taken from neighbours: first copies, genuine. */
  received: number;
  /** Copies of says already seen, dropped. */
  duplicates: number;
  /** Says passed on to neighbours (one per say, however many neighbours). */
  relayed: number;
  /** Says sent to neighbours by sending and relaying (one per neighbour per say). */
  framesSent: number;
}

/**
 * Floods says: {@linkcode send} for this peer's own, {@linkcode receive} for its neighbours'.
 *
 * @example
 * ```ts
 * import { Flood } from "./flood.ts";
 * import { SayChecks } from "./checks.ts";
 * import { SayVerifier } from "./signing.ts";
 * import { SeenCache } from "./seen_cache.ts";
 * const flood = new Flood({
 *   selfId: "0".repeat(32),
 *   channel: { broadcast: () => 3 }, // three neighbours
 *   seen: new SeenCache(60_000, 1000),
 *   checks: new SayChecks(new SayVerifier(32), console.error),
 *   log: console.error,
 *   onSay: (say) => console.log(say.lines),
 * });
 * flood.send({
 *   id: "ab", origin: "0".repeat(32), nick: "ada", lines: ["hi"], clock: 1, hops: 32,
 *   sentAt: 0, key: new Uint8Array(32), sig: new Uint8Array(64),
 * });
 * console.log(flood.counts.framesSent); // 3
 * ```
 */
export class Flood {
  readonly #options: FloodOptions;
  readonly #counts: FloodCounts = { received: 0, duplicates: 0, relayed: 0, framesSent: 0 };
  /** The first copy of each say whose signature is being checked. */
  readonly #inCheck = new Map<string, { signed: Uint8Array; sig: Uint8Array }>();

  /** A flood over `options.channel`. */
  constructor(options: FloodOptions) {
    this.#options = options;
  }

  /** What it has done so far. */
  get counts(): Readonly<FloodCounts> {
    return this.#counts;
  }

  /** Sends a say written and signed here to every neighbour. */
  send(say: ChatWireMessage): void {
    this.#counts.framesSent += this.#options.channel.broadcast({ type: "say", ...say });
  }

  /** Takes a say from neighbour `from`. */
  receive(body: ChatWireMessage & { type: "say" }, from: PeerInfo): void {
    const { type: _type, ...say } = body;
    const { selfId, seen, checks } = this.#options;
    // A copy of a say seen already is dropped unchecked: nothing of it is used.
    if (say.origin === selfId || seen.has(say.id)) {
      this.#counts.duplicates++;
      return;
    }
    // Malformed says are dropped before anything is built from them.
    if (!wellFormed(say)) return checks.reportForged(say, from);
    const signed = signedBytes(say);
    const genuine = checks.checkNow(say, signed);
    if (genuine !== undefined) {
      // Nothing waits ahead of it and its author's key is known: checked and handled now.
      if (genuine) this.#accept(say, from);
      else checks.reportForged(say, from);
      return;
    }
    // A copy of a say being checked, byte for byte, is a duplicate: it will pass or fail with the
    // first. A copy that differs in anything is checked on its own.
    const first = this.#inCheck.get(say.id);
    if (first && bytesEqual(first.signed, signed) && bytesEqual(first.sig, say.sig)) {
      this.#counts.duplicates++;
      return;
    }
    const queued = checks.check([say], ([ok]) => {
      if (this.#inCheck.get(say.id)?.signed === signed) this.#inCheck.delete(say.id);
      if (ok) this.#accept(say, from);
      else checks.reportForged(say, from);
    }, [signed]);
    if (!queued) {
      if (checks.overloaded === 1) {
        this.#options.log(
          `chat messages arrive faster than their signatures can be checked: dropping some`,
        );
      }
      return;
    }
    if (!first) this.#inCheck.set(say.id, { signed, sig: say.sig });
  }

  /** A genuine say: taken once, relayed, then handed on. */
  #accept(say: ChatWireMessage, from: PeerInfo): void {
    if (!this.#options.seen.add(say.id)) {
      this.#counts.duplicates++; // a copy that arrived while the first was being checked
      return;
    }
    this.#counts.received++;
    // Relayed first: the neighbours need not wait for this peer's screen, and a failing handler
    // must not stop the flood.
    this.#relay(say, from);
    this.#options.onSay(say, from);
  }

  /**
   * Passes a new say on to every neighbour but `from`, with one hop less left. A direct say stops
   * at its recipient; everything else goes on while hops remain.
   */
  #relay(say: ChatWireMessage, from: PeerInfo): void {
    const hopsLeft = say.hops;
    if (hopsLeft <= 1 || say.to === this.#options.selfId) return;
    this.#counts.relayed++;
    this.#counts.framesSent += this.#options.channel.broadcast(
      { type: "say", ...say, hops: hopsLeft - 1 },
      from.id,
    );
  }
}
