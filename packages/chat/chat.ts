/**
 * Chat over the meshtalk core: a line written at any peer reaches every peer exactly once. Each
 * say carries a unique id, its origin, a Lamport clock, a hop limit and its place in its author's
 * stream, and is signed by its origin's identity key; every peer checks the signature before it
 * shows or passes on a say, so a relay can neither alter a message nor forge one. Says travel a
 * broadcast tree with anti-entropy on every new link (`relay.ts`, `broadcast_tree.ts`), so that
 * after a partition heals, or a peer comes back, every peer gets what it missed, once, marked late.
 *
 * This file puts the parts together: the outbox (lines into signed says), the relay (receiving,
 * checking and passing says on), and what the user sees.
 *
 * @module
 */
import { type AppChannel, Emitter, type Peer } from "@meshtalk/core";
import { SayChecks } from "./checks.ts";
import { LamportClock } from "./clock.ts";
import { Outbox } from "./outbox.ts";
import { resolveRecipient } from "./recipients.ts";
import { Relay, type RelayCounts } from "./relay.ts";
import { SayVerifier } from "./signing.ts";
import {
  chatApp,
  type ChatSchema,
  type ChatWireMessage,
  DEFAULT_HOPS,
  HISTORY_LIMIT,
  hopLimitOf,
  lineId,
  NICK_EVENT,
  streamOfSay,
} from "./wire.ts";

/** A message as the chat shows it. */
export interface ChatMessage {
  /** Unique message id. */
  id: string;
  /** The peer that wrote it. */
  from: { id: string; nick: string };
  /** Its text. */
  text: string;
  /** Hops it travelled to get here (0: from a neighbour's own keyboard). */
  hops: number;
  /** When its author sent it (ms since epoch, by the author's clock). */
  sentAt: number;
  /** Lamport clock of the message. */
  clock: number;
  /** True for a direct message (to this peer, or from it). */
  direct: boolean;
  /** The peer id a direct message is for. */
  to?: string;
  /**
   * True when it came later than it was said: in answer to what this peer lacked when a link
   * opened (after a partition, a restart, or on joining), rather than as it travelled.
   */
  late: boolean;
}

/** A peer that took a new nickname. */
export interface NickChange {
  /** Its id. */
  id: string;
  /** Its new nickname. */
  nick: string;
  /** The one it had, as far as this peer knew. */
  before: string | null;
  /** True when it came in answer to a summary (it was said a while ago). */
  late: boolean;
}

/** Options of {@linkcode createChat}. */
export interface ChatOptions {
  /** Hop limit of messages sent from here (default {@linkcode DEFAULT_HOPS}). */
  hops?: number;
  /** Says kept to give to neighbours that lack them (default 1,000). */
  keep?: number;
  /** Where the chat reports forged messages, once (default `console.error`). */
  log?: (line: string) => void;
  /**
   * Most lines written together that travel under one signature (default and most
   * 64, the most a say carries; 1: every line is a say of its own, signed and checked alone).
   */
  linesPerSay?: number;
}

/** A chat running on a peer. */
export interface Chat {
  /** This peer's nickname. */
  readonly nick: string;
  /** Sends `text` to everyone; returns the message as shown locally. */
  say(text: string): ChatMessage;
  /** Sends `text` to one peer, by id, id prefix or nickname. */
  direct(target: string, text: string): ChatMessage;
  /** Changes this peer's nickname, and tells every peer. */
  setNick(nick: string): void;
  /** Calls `handler` when a peer takes a new nickname; returns an unsubscribe. */
  onNick(handler: (change: NickChange) => void): () => void;
  /** The recent messages, this peer's own included, oldest first (at most 100 lines). */
  history(): ChatMessage[];
  /** Peers known by the messages seen: id to nickname. */
  knownPeers(): Map<string, string>;
  /** Calls `handler` for every message shown (once per message); returns an unsubscribe. */
  onMessage(handler: (message: ChatMessage) => void): () => void;
  /**
   * Without `bytes`, resolves once every message written is signed and handed to the connections
   * (await it before leaving). With `bytes`: once at most `bytes` are queued for any neighbour and
   * fewer than 1,024 messages, and fewer than `bytes` characters, wait for their signatures: how a
   * writer of many lines keeps pace with the network without sending each line alone.
   */
  drained(bytes?: number): Promise<void>;
  /** Counters since start: what was shown, relayed, and dropped as duplicates. */
  stats(): ChatStats;
  /** Stops listening to the peer. */
  close(): void;
}

/** What a chat has done since it started. */
export interface ChatStats extends RelayCounts {
  /** Messages (lines) written here. */
  sent: number;
  /** Messages from others shown here (live or late), each once. */
  delivered: number;
  /**
   * Messages dropped because their signature did not verify against their origin's key: altered
   * or forged on the way. They are neither shown nor relayed.
   */
  forged: number;
  /**
   * Messages dropped unchecked because more than 16,384 were waiting for their signature check:
   * the neighbours sent faster than this peer can verify.
   */
  overloaded: number;
}

/** How often the broadcast tree sends its announcements and repairs itself. */
const TICK_MS = 100;

/**
 * Runs the chat on `peer`, which must have been started with {@linkcode chatApp} in its apps.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { chatApp, createChat } from "@meshtalk/chat";
 * const peer = await startPeer({ apps: [chatApp], nick: "ada" });
 * const chat = createChat(peer);
 * chat.onMessage((m) => console.log(`${m.from.nick}: ${m.text}`));
 * chat.say("hello, mesh");
 * chat.close();
 * await peer.close();
 * ```
 */
export function createChat(peer: Peer, options: ChatOptions = {}): Chat {
  const channel: AppChannel<ChatSchema> = peer.app(chatApp);
  const hopLimit = options.hops ?? DEFAULT_HOPS;
  const log = options.log ?? ((line: string) => console.error(line));
  const clock = new LamportClock();
  const checks = new SayChecks(new SayVerifier(hopLimit), log);
  const shown = new Emitter<{ message: ChatMessage; nick: NickChange }>((_, error) =>
    log(`a chat message handler failed: ${(error as Error).message}`)
  );
  /** Nicknames seen on says: newer than those neighbours announced when they connected. */
  const nicks = new Map<string, string>();
  let delivered = 0;

  /** Line `i` of `say` as the chat shows it. */
  const asShown = (say: ChatWireMessage, i: number, late: boolean): ChatMessage => {
    const hopsLeft = say.hops;
    const hopsTravelled = hopLimitOf(say, hopLimit) - hopsLeft;
    return {
      id: lineId(say.id, i),
      from: { id: say.origin, nick: say.nick },
      text: say.lines[i],
      hops: hopsTravelled,
      sentAt: say.sentAt,
      clock: say.clock + i,
      direct: say.to !== undefined,
      ...(say.to ? { to: say.to } : {}),
      late,
    };
  };

  /** True if this peer shows `say`: not a direct say between two others. */
  const forMe = (say: ChatWireMessage) => !say.to || say.to === peer.id || say.origin === peer.id;

  /** A new say from a neighbour, live or late: counted and shown. */
  const arrived = (say: ChatWireMessage, late: boolean) => {
    clock.witness(say);
    const before = nicks.get(say.origin) ??
      peer.peers().find((info) => info.id === say.origin)?.nick ?? null;
    nicks.set(say.origin, say.nick);
    if (say.event === NICK_EVENT) {
      if (say.origin !== peer.id) {
        shown.emit("nick", { id: say.origin, nick: say.nick, before, late });
      }
      return;
    }
    if (!forMe(say)) return;
    delivered += say.lines.length;
    for (let i = 0; i < say.lines.length; i++) shown.emit("message", asShown(say, i, late));
  };

  const epoch = Date.now();
  const relay = new Relay({
    selfId: peer.id,
    ownStream: streamOfSay({ origin: peer.id, epoch }),
    channel,
    checks,
    log,
    onSay: arrived,
    keep: options.keep,
  });
  const outbox = new Outbox({
    author: peer,
    hopLimit,
    epoch,
    clock,
    log,
    linesPerSay: options.linesPerSay,
    onSigned: (say) => relay.publish(say),
  });

  const write = (text: string, to?: string): ChatMessage => {
    const { say, line } = outbox.write(text, to);
    return asShown(say, line, false);
  };

  const unsubscribeMessages = channel.onMessage((body, from) => relay.receive(body, from));
  const unsubscribePeers = channel.onPeer((event) => {
    if (event.type === "joined") relay.join(event.peer.id);
    else relay.leave(event.peer.id);
  });
  for (const info of channel.peers()) relay.join(info.id);
  const timer = setInterval(() => relay.tick(), TICK_MS);

  return {
    get nick() {
      return peer.nick;
    },
    say: (text) => write(text),
    direct: (target, text) => {
      const known = [...peer.peers().map((info) => [info.id, info.nick] as const), ...nicks];
      return write(text, resolveRecipient(target, known));
    },
    setNick: (nick) => {
      peer.setNick(nick);
      outbox.renamed();
    },
    onNick: (handler) => shown.on("nick", handler),
    history: () => {
      const lines = relay.recent().filter(forMe).flatMap((say) =>
        say.lines.map((_, i) => asShown(say, i, false))
      );
      return lines.slice(-HISTORY_LIMIT);
    },
    knownPeers: () => new Map(nicks),
    stats: () => ({
      sent: outbox.sent,
      delivered,
      ...relay.counts,
      forged: checks.forged,
      overloaded: checks.overloaded,
    }),
    drained: async (bytes) => {
      await outbox.drained(bytes);
      await channel.drained(bytes ?? 0);
    },
    onMessage: (handler) => shown.on("message", handler),
    close: () => {
      clearInterval(timer);
      unsubscribeMessages();
      unsubscribePeers();
      shown.clear();
    },
  };
}
