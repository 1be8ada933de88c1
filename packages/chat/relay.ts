/**
 * How says travel between this peer and its neighbours: each received say is checked (well
 * formed, signed by its origin) before the broadcast tree takes it, and the tree decides where it
 * goes next (whole along the tree, announced on the other links, summaries and answers on every
 * new link: see `broadcast_tree.ts`). This module maps the chat's wire messages to the tree's and
 * back, and keeps the checks in arrival order.
 *
 * @module
 */
import { type AppChannel, bytesEqual, type PeerInfo } from "@meshtalk/core";
import { BroadcastTree, type TreeMessage, type TreeStats } from "./broadcast_tree.ts";
import type { SayChecks } from "./checks.ts";
import { signedBytes, wellFormed } from "./signing.ts";
import { StreamLog } from "./stream_log.ts";
import { type ChatSchema, type ChatWireMessage, MAX_STREAMS, streamOfSay } from "./wire.ts";

/** A say as the tree knows it: its place in its author's stream, and the say itself. */
export interface Item {
  /** Its stream: its author and when the author's run started. */
  stream: string;
  /** Its number in the stream. */
  n: number;
  /** The say, as this peer would pass it on. */
  say: ChatWireMessage;
}

/** What a {@linkcode Relay} needs. */
export interface RelayOptions {
  /** This peer's id: a direct say to it goes no further. */
  selfId: string;
  /** This run's stream: a say of it that this peer did not write here is a forgery or an echo. */
  ownStream: string;
  /** Where messages go to neighbours. */
  channel: Pick<AppChannel<ChatSchema>, "multicast">;
  /** Signature checks, in arrival order. */
  checks: SayChecks;
  /** Where overload is reported, once. */
  log: (line: string) => void;
  /** Called with each new, genuine say, in arrival order; `late` when it answered a summary. */
  onSay: (say: ChatWireMessage, late: boolean) => void;
  /** The time now, in ms (default `performance.now`). */
  now?: () => number;
  /** Says kept to give to neighbours that lack them (default 1,000). */
  keep?: number;
}

/** What a {@linkcode Relay} has done. */
export interface RelayCounts {
  /** Says taken from neighbours: first copies, genuine (late ones included). */
  received: number;
  /** Copies of says already had, dropped. */
  duplicates: number;
  /** Says passed on (one per say, however many neighbours). */
  relayed: number;
  /** Says sent whole to neighbours (one per neighbour per say). */
  framesSent: number;
  /** Says taken from answers to summaries: said while this peer was away or cut off. */
  late: number;
  /** Announcements sent on lazy links. */
  announcements: number;
  /** Links grafted back into the tree. */
  grafts: number;
  /** Links pruned from the tree. */
  prunes: number;
}

/**
 * The chat's side of the broadcast tree.
 *
 * @example
 * ```ts ignore
 * const relay = new Relay({ selfId, channel, checks, log, onSay: (say) => show(say) });
 * channel.onPeer((event) => event.type === "joined" ? relay.join(event.peer.id) : relay.leave(event.peer.id));
 * channel.onMessage((body, from) => relay.receive(body, from));
 * setInterval(() => relay.tick(), 100);
 * ```
 */
export class Relay {
  readonly #options: RelayOptions;
  readonly #log: StreamLog<Item>;
  readonly #tree: BroadcastTree<Item>;
  #received = 0;
  #relayed = 0;
  #echoes = 0;
  /** Says being checked, by `stream#n`: an identical copy waits for the first's verdict. */
  readonly #inCheck = new Map<string, { signed: Uint8Array; sig: Uint8Array; genuine?: boolean }>();

  /** A relay with no neighbours yet. */
  constructor(options: RelayOptions) {
    this.#options = options;
    this.#log = new StreamLog({ maxItems: options.keep ?? 1000 });
    this.#tree = new BroadcastTree<Item>({
      log: this.#log,
      send: (peers, message) => options.channel.multicast(peers, this.#toWire(message)),
      deliver: (item, _from, late) => {
        this.#received++;
        options.onSay(item.say, late);
      },
      forward: (item) => {
        const say = item.say;
        // A direct say stops at its recipient; everything else goes on while hops remain.
        if (say.hops <= 1 || say.to === options.selfId) return null;
        this.#relayed++;
        return { ...item, say: { ...say, hops: say.hops - 1 } };
      },
      now: options.now ?? (() => performance.now()),
      maxSummary: MAX_STREAMS,
    });
  }

  /** What it has done so far. */
  get counts(): RelayCounts {
    const tree: TreeStats = this.#tree.stats();
    return {
      received: this.#received,
      duplicates: tree.duplicates + this.#echoes,
      relayed: this.#relayed,
      framesSent: tree.pushed,
      late: tree.late,
      announcements: tree.announced,
      grafts: tree.grafts,
      prunes: tree.prunes,
    };
  }

  /** Says kept to give to others, oldest first: what this peer has seen lately, its own too. */
  recent(): ChatWireMessage[] {
    return this.#log.keptItems().map((item) => item.say);
  }

  /** A new neighbour that runs chat: it is sent what this peer has, to send back what it lacks. */
  join(peerId: string): void {
    this.#tree.join(peerId);
  }

  /** A neighbour gone. */
  leave(peerId: string): void {
    this.#tree.leave(peerId);
  }

  /** Sends a say written and signed here. */
  publish(say: ChatWireMessage): void {
    this.#tree.publish(itemOf(say));
  }

  /** Takes a chat message from neighbour `from`. */
  receive(body: ChatSchemaBody, from: PeerInfo): void {
    switch (body.type) {
      case "say": {
        const { type: _type, late, ...say } = body;
        return this.#receiveSay(say, late === true, from);
      }
      case "ihave":
        return this.#tree.receive(from.id, {
          t: "ihave",
          // A run that is no run (backwards, or from 0) names nothing.
          have: body.have.map(({ stream, runs }) => [
            stream,
            runs.filter(({ from, to }) => from >= 1 && from <= to).map((
              { from, to },
            ) => [from, to]),
          ]),
        });
      case "graft":
        return this.#tree.receive(from.id, {
          t: "graft",
          want: body.want.map(({ stream, n }) => [stream, n]),
        });
      case "prune":
        return this.#tree.receive(from.id, { t: "prune", streams: body.streams });
      case "summary":
        // Answered once the says that came before it are handled: the answer is then complete.
        this.#options.checks.after(() =>
          this.#tree.receive(from.id, {
            t: "summary",
            streams: body.streams.map(({ stream, base, max }) => [stream, base, max]),
          })
        );
        return;
    }
  }

  /** Sends what waits on lazy links and grafts what did not come: call it every ~100 ms. */
  tick(): void {
    this.#tree.tick();
  }

  #receiveSay(say: ChatWireMessage, late: boolean, from: PeerInfo): void {
    const { checks } = this.#options;
    const item = itemOf(say);
    const message: TreeMessage<Item> = { t: "item", item, late };
    // A copy of a say had already is dropped unchecked: the tree only notes where it came from.
    if (this.#tree.has(item)) return this.#tree.receive(from.id, message);
    // Of this run's own stream, only what this peer wrote is real: the rest is dropped unchecked.
    if (item.stream === this.#options.ownStream) {
      this.#echoes++;
      return;
    }
    // Malformed says are dropped before anything is built from them.
    if (!wellFormed(say)) return checks.reportForged(say, from);
    const signed = signedBytes(say);
    const genuine = checks.checkNow(say, signed);
    if (genuine !== undefined) {
      // Nothing waits ahead of it and its author's key is known: checked and handled now.
      if (genuine) this.#tree.receive(from.id, message);
      else checks.reportForged(say, from);
      return;
    }
    // A copy of a say being checked, byte for byte, stands or falls with the first. A copy that
    // differs in anything is checked on its own.
    const key = `${item.stream}#${item.n}`;
    const first = this.#inCheck.get(key);
    if (first && bytesEqual(first.signed, signed) && bytesEqual(first.sig, say.sig)) {
      checks.after(() => {
        if (first.genuine) this.#tree.receive(from.id, message);
      });
      return;
    }
    const entry = { signed, sig: say.sig, genuine: undefined as boolean | undefined };
    const queued = checks.check([say], ([ok]) => {
      entry.genuine = ok;
      if (this.#inCheck.get(key) === entry) this.#inCheck.delete(key);
      if (ok) this.#tree.receive(from.id, message);
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
    if (!first) this.#inCheck.set(key, entry);
  }

  #toWire(message: TreeMessage<Item>): ChatSchemaBody {
    switch (message.t) {
      case "item":
        return { type: "say", ...message.item.say, ...(message.late ? { late: true } : {}) };
      case "ihave":
        return {
          type: "ihave",
          have: message.have.map(([stream, runs]) => ({
            stream,
            runs: runs.map(([from, to]) => ({ from, to })),
          })),
        };
      case "graft":
        return { type: "graft", want: message.want.map(([stream, n]) => ({ stream, n })) };
      case "prune":
        return { type: "prune", streams: message.streams };
      case "summary":
        return { type: "summary", streams: message.streams.map(summaryEntry) };
    }
  }
}

/** A chat app message, as the channel carries it. */
type ChatSchemaBody = Parameters<Pick<AppChannel<ChatSchema>, "multicast">["multicast"]>[1];

function itemOf(say: ChatWireMessage): Item {
  return { stream: streamOfSay(say), n: say.n, say };
}

function summaryEntry([stream, base, max]: [string, number, number]) {
  return { stream, base, max };
}
