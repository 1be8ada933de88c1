/**
 * History, so that late joiners catch up: the recent says a peer keeps, its answers to a new
 * neighbour's request for them, and taking the answers to its own requests.
 *
 * @module
 */
import type { AppChannel, PeerInfo } from "@meshtalk/core";
import type { Receiving } from "./checks.ts";
import { type ChatSchema, type ChatWireMessage, HISTORY_LIMIT } from "./wire.ts";

/** What a {@linkcode History} needs besides what it shares with the flood. */
export interface HistoryOptions extends Receiving {
  /** Where requests and answers go. */
  channel: Pick<AppChannel<ChatSchema>, "send">;
  /** Called with each say taken from an answer and not seen before, in clock order. */
  onSay: (say: ChatWireMessage) => void;
}

/**
 * The recent says, at most {@linkcode HISTORY_LIMIT} lines in all (at least the latest say), and
 * the requests for them both ways.
 *
 * @example
 * ```ts
 * import { History } from "./history.ts";
 * import { SayChecks } from "./checks.ts";
 * import { SayVerifier } from "./signing.ts";
 * import { SeenCache } from "./seen_cache.ts";
 * const history = new History({
 *   selfId: "0".repeat(32),
 *   channel: { send: async () => {} },
 *   seen: new SeenCache(60_000, 1000),
 *   checks: new SayChecks(new SayVerifier(32), console.error),
 *   onSay: () => {},
 * });
 * history.remember({
 *   id: "ab", origin: "1".repeat(32), nick: "bo", lines: ["hi", "again"], clock: 1, hops: 30,
 *   limit: 32, sentAt: 0, key: new Uint8Array(32), sig: new Uint8Array(64),
 * });
 * console.log(history.answerFor(10).length, history.answerFor(1).length); // 1 0
 * ```
 */
export class History {
  readonly #options: HistoryOptions;
  #recent: ChatWireMessage[] = [];
  #recentLines = 0;
  /** Neighbours asked for their history and not yet answered. */
  readonly #asked = new Set<string>();

  /** An empty history. */
  constructor(options: HistoryOptions) {
    this.#options = options;
  }

  /** The says kept, oldest first. */
  says(): readonly ChatWireMessage[] {
    return this.#recent;
  }

  /** Keeps a signed say to answer requests with; direct says are not history for others. */
  remember(say: ChatWireMessage): void {
    if (say.to) return;
    this.#recent.push(say);
    this.#recentLines += say.lines.length;
    while (this.#recentLines > HISTORY_LIMIT && this.#recent.length > 1) {
      this.#recentLines -= this.#recent.shift()!.lines.length;
    }
  }

  /**
   * What to answer a request for `limit` lines with: the latest says whose lines fit, oldest
   * first, of those that could still travel a hop. History must not carry a say further than
   * its hop limit would have.
   */
  answerFor(limit: number): ChatWireMessage[] {
    const says: ChatWireMessage[] = [];
    let lines = 0;
    for (let i = this.#recent.length - 1; i >= 0; i--) {
      const say = this.#recent[i];
      const hopsLeft = say.hops;
      if (hopsLeft <= 1 && say.origin !== this.#options.selfId) continue;
      if (lines + say.lines.length > limit) break;
      lines += say.lines.length;
      says.unshift(say);
    }
    return says;
  }

  /** Asks a new neighbour for what it has seen recently. */
  request(peerId: string): void {
    this.#asked.add(peerId);
    this.#options.channel.send(peerId, { type: "history-request", limit: HISTORY_LIMIT })
      .catch(() => {});
  }

  /** Stops waiting for the answer of a neighbour that left. */
  forget(peerId: string): void {
    this.#asked.delete(peerId);
  }

  /** Answers `from`'s request, once the says received before it are handled. */
  receiveRequest(limit: number, from: PeerInfo): void {
    const { checks, channel } = this.#options;
    checks.after(() => {
      channel.send(from.id, { type: "history", messages: this.answerFor(limit) }).catch(() => {});
    });
  }

  /**
   * Takes `from`'s answer, if this peer asked it: an unasked history would be a cheap way to
   * make it verify 100 signatures a frame. Genuine says not seen before are handed on in clock
   * order; forged ones are counted.
   */
  receiveAnswer(says: ChatWireMessage[], from: PeerInfo): void {
    if (!this.#asked.delete(from.id)) return;
    const { checks } = this.#options;
    checks.check(says, (genuine) => {
      const good = says.filter((say, i) => {
        if (!genuine[i]) checks.reportForged(say, from);
        return genuine[i];
      });
      this.#take(good);
    });
  }

  #take(says: ChatWireMessage[]): void {
    const { selfId, seen, onSay } = this.#options;
    const fresh = says.filter((say) => say.origin !== selfId && seen.add(say.id));
    fresh.sort((a, b) => a.clock - b.clock || a.sentAt - b.sentAt);
    for (const say of fresh) onSay(say);
  }
}
