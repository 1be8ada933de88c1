/**
 * Gossip chat over the meshtalk core: every message is flooded to every peer exactly once.
 * Each carries a unique id, its origin, a Lamport clock and a hop limit; a peer relays a new
 * message to every neighbour but the one it came from and drops ids it has seen. Every message
 * is signed by its origin's identity key, and every peer checks the signature before it shows or
 * relays a message, so a relay can neither alter a message nor forge one.
 *
 * This file puts the parts together: the outbox (lines into signed says), the flood (receiving,
 * checking and relaying says), history (for late joiners), and what the user sees.
 *
 * @module
 */
import { type AppChannel, Emitter, type Peer } from "@meshtalk/core";
import { SayChecks } from "./checks.ts";
import { LamportClock } from "./clock.ts";
import { Flood } from "./flood.ts";
import { History } from "./history.ts";
import { Outbox } from "./outbox.ts";
import { resolveRecipient } from "./recipients.ts";
import { SeenCache } from "./seen_cache.ts";
import { SayVerifier } from "./signing.ts";
import {
  chatApp,
  type ChatSchema,
  type ChatWireMessage,
  DEFAULT_HOPS,
  hopLimitOf,
  lineId,
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
  /** True for a direct message to this peer. */
  direct: boolean;
  /** True when it came from a neighbour's history rather than live. */
  history: boolean;
}

/** Options of {@linkcode createChat}. */
export interface ChatOptions {
  /** Hop limit of messages sent from here (default {@linkcode DEFAULT_HOPS}). */
  hops?: number;
  /** How long a message id is remembered to drop its duplicates (default 10 minutes). */
  seenForMs?: number;
  /** Most ids remembered (default 100,000). */
  maxSeen?: number;
  /** Where the chat reports forged messages, once (default `console.error`). */
  log?: (line: string) => void;
}

/** A chat running on a peer. */
export interface Chat {
  /** This peer's nickname. */
  readonly nick: string;
  /** Sends `text` to everyone; returns the message as shown locally. */
  say(text: string): ChatMessage;
  /** Sends `text` to one peer, by id, id prefix or nickname. */
  direct(target: string, text: string): ChatMessage;
  /** Changes this peer's nickname. */
  setNick(nick: string): void;
  /** The recent messages, oldest first. */
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
export interface ChatStats {
  /** Messages (lines) written here. */
  sent: number;
  /** Messages from others shown here (live or from history), each once. */
  delivered: number;
  /** Says (each one or more lines written together) taken from neighbours live: first copies. */
  received: number;
  /** Copies of says already seen, dropped. */
  duplicates: number;
  /** Says passed on to neighbours (one per say, however many neighbours). */
  relayed: number;
  /** Says sent to neighbours by sending and relaying (one per neighbour per say). */
  framesSent: number;
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
  const seen = new SeenCache(options.seenForMs ?? 10 * 60_000, options.maxSeen ?? 100_000);
  const clock = new LamportClock();
  const checks = new SayChecks(new SayVerifier(hopLimit), log);
  const shown = new Emitter<{ message: ChatMessage }>((_, error) =>
    log(`a chat message handler failed: ${(error as Error).message}`)
  );
  /** Nicknames seen on says: newer than those neighbours announced when they connected. */
  const nicks = new Map<string, string>();
  let delivered = 0;

  /** Line `i` of `say` as the chat shows it. */
  const asShown = (say: ChatWireMessage, i: number, fromHistory: boolean): ChatMessage => {
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
      history: fromHistory,
    };
  };

  /** A new say from another peer, live or from history: counted, kept, shown. */
  const arrived = (say: ChatWireMessage, fromHistory: boolean) => {
    clock.witness(say);
    history.remember(say);
    nicks.set(say.origin, say.nick);
    if (say.to && say.to !== peer.id && say.origin !== peer.id) return;
    delivered += say.lines.length;
    for (let i = 0; i < say.lines.length; i++) shown.emit("message", asShown(say, i, fromHistory));
  };

  const flood = new Flood({
    selfId: peer.id,
    channel,
    seen,
    checks,
    log,
    onSay: (say) => arrived(say, false),
  });
  const history = new History({
    selfId: peer.id,
    channel,
    seen,
    checks,
    onSay: (say) => arrived(say, true),
  });
  const outbox = new Outbox({
    author: peer,
    hopLimit,
    clock,
    log,
    onSigned: (say) => {
      history.remember(say); // signed: history answers carry it
      flood.send(say);
    },
  });

  const write = (text: string, to?: string): ChatMessage => {
    const { say, line } = outbox.write(text, to);
    // Seen like any say here: the cache's bound counts this peer's own says too (copies of them
    // are dropped by their origin anyway).
    if (line === 0) seen.add(say.id);
    return asShown(say, line, false);
  };

  const unsubscribeMessages = channel.onMessage((body, from) => {
    if (body.type === "say") flood.receive(body, from);
    else if (body.type === "history") history.receiveAnswer(body.messages, from);
    else history.receiveRequest(body.limit, from);
  });
  // Late joiners catch up: each new neighbour is asked for what it has seen recently.
  const unsubscribePeers = channel.onPeer((event) => {
    if (event.type === "joined") history.request(event.peer.id);
    else history.forget(event.peer.id);
  });

  return {
    get nick() {
      return peer.nick;
    },
    say: (text) => write(text),
    direct: (target, text) => {
      const known = [...peer.peers().map((info) => [info.id, info.nick] as const), ...nicks];
      return write(text, resolveRecipient(target, known));
    },
    setNick: (nick) => peer.setNick(nick),
    history: () => history.says().flatMap((say) => say.lines.map((_, i) => asShown(say, i, true))),
    knownPeers: () => new Map(nicks),
    stats: () => ({
      sent: outbox.sent,
      delivered,
      ...flood.counts,
      forged: checks.forged,
      overloaded: checks.overloaded,
    }),
    drained: async (bytes) => {
      await outbox.drained(bytes);
      await channel.drained(bytes ?? 0);
    },
    onMessage: (handler) => shown.on("message", handler),
    close: () => {
      unsubscribeMessages();
      unsubscribePeers();
      shown.clear();
    },
  };
}
