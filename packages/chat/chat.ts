/**
 * Gossip chat over the meshtalk core: every message is flooded to every peer exactly once.
 * Each carries a unique id, its origin, a Lamport clock and a hop limit; a peer relays a new
 * message to every neighbour but the one it came from and drops ids it has seen. Every message
 * is signed by its origin's identity key, and every peer checks the signature before it shows or
 * relays a message, so a relay can neither alter a message nor forge one.
 *
 * @module
 */
import {
  type AppChannel,
  type AppDefinition,
  type ArraySchema,
  type BinSchema,
  defineApp,
  type Infer,
  type MapSchema,
  type OneOfSchema,
  type OptionalSchema,
  type Peer,
  peerIdFromKey,
  type PeerInfo,
  s,
  type StrSchema,
  type UintSchema,
} from "@meshtalk/core";
import { Buffer } from "node:buffer";
import { createPublicKey, type KeyObject, verify as verifyNow } from "node:crypto";

/** Longest message text, in characters; also the most text one `say` carries in all its lines. */
export const MAX_TEXT_LENGTH = 4000;
/** Most lines one `say` carries: lines written together travel together, under one signature. */
export const MAX_LINES = 64;
/** Hop limit given to new messages: more than the diameter of any mesh this is meant for. */
export const DEFAULT_HOPS = 32;
const HISTORY_LIMIT = 100;

/** A message author's id, and its key ready to verify with (null: not an Ed25519 key). */
interface Author {
  id: string;
  key: KeyObject | null;
}

/** Schema of a chat message on the wire. */
export type ChatMessageSchema = MapSchema<{
  id: StrSchema;
  origin: StrSchema;
  nick: StrSchema;
  lines: ArraySchema<StrSchema>;
  clock: UintSchema;
  hops: UintSchema;
  sentAt: UintSchema;
  to: OptionalSchema<StrSchema>;
  limit: OptionalSchema<UintSchema>;
  key: BinSchema;
  sig: BinSchema;
}>;

/** Schema of every chat app message. */
export type ChatSchema = OneOfSchema<"type", {
  say: ChatMessageSchema;
  "history-request": MapSchema<{ limit: UintSchema }>;
  history: MapSchema<{ messages: ArraySchema<ChatMessageSchema> }>;
}>;

const chatMessage: ChatMessageSchema = s.map({
  id: s.str(32),
  origin: s.str(32),
  nick: s.str(32),
  lines: s.array(s.str(MAX_TEXT_LENGTH), MAX_LINES),
  clock: s.uint(),
  hops: s.uint(255),
  sentAt: s.uint(),
  to: s.optional(s.str(32)),
  limit: s.optional(s.uint(255)),
  key: s.bin(32, 32),
  sig: s.bin(64, 64),
});

/** The chat app's wire messages. */
export const chatApp: AppDefinition<ChatSchema> = defineApp(
  "chat",
  s.oneOf("type", {
    say: chatMessage,
    "history-request": s.map({ limit: s.uint(HISTORY_LIMIT) }),
    history: s.map({ messages: s.array(chatMessage, HISTORY_LIMIT) }),
  }),
);

/**
 * A `say` as it travels: one or more lines written together at its origin, sharing an id, a
 * Lamport clock (line `i` has `clock + i`), a hop limit and one signature.
 */
export type ChatWireMessage = Infer<ChatMessageSchema>;

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

/** A message id could not be resolved, or a text is too long. */
export class ChatError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "ChatError";
  }
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
  const hops = options.hops ?? DEFAULT_HOPS;
  const seen = new SeenCache(options.seenForMs ?? 10 * 60_000, options.maxSeen ?? 100_000);
  const recent: ChatWireMessage[] = [];
  const nicks = new Map<string, string>();
  const handlers = new Set<(message: ChatMessage) => void>();
  const counts: ChatStats = {
    sent: 0,
    delivered: 0,
    received: 0,
    duplicates: 0,
    relayed: 0,
    framesSent: 0,
    forged: 0,
    overloaded: 0,
  };
  const log = options.log ?? ((line: string) => console.error(line));
  let clock = 0;
  /** Messages are signed, then sent, in the order they were written. */
  let sending: Promise<void> = Promise.resolve();
  /** Says written and not yet signed; the last may still take lines (see `originate`). */
  let unsigned: ChatWireMessage[] = [];
  /** Lines in `unsigned`, and their characters. */
  let unsignedLines = 0;
  let unsignedChars = 0;
  /** Received messages are checked concurrently and handled in arrival order. */
  let receiving: Promise<void> = Promise.resolve();
  /** Neighbours asked for their history and not yet answered. */
  const asked = new Set<string>();
  /** The first copy of each message whose signature is being checked. */
  const inCheck = new Map<string, { bytes: Uint8Array; sig: Uint8Array }>();
  /** Messages whose signature is being checked. */
  let checking = 0;
  /** Ids derived from keys, and the keys ready to verify with, by key: each is made once. */
  const idsByKey = new Map<string, Author>();

  const authorOf = (key: Uint8Array) => idsByKey.get(toHex(key));

  /** Derives and remembers the id of a key seen for the first time. */
  const learnKey = async (key: Uint8Array): Promise<Author> => {
    const author = { id: await peerIdFromKey(key), key: ed25519Key(key) };
    if (idsByKey.size >= 4096) idsByKey.delete(idsByKey.keys().next().value!);
    idsByKey.set(toHex(key), author);
    return author;
  };

  /**
   * True if `wire` is signed by `author`, its origin, over every field but `hops`. Callers check
   * first that it is well formed (`wellFormed`).
   */
  const signedBy = (author: Author, wire: ChatWireMessage, bytes: Uint8Array): boolean => {
    // A relay may lower hops (that only shortens the flood) but not raise them past the limit
    // the author signed.
    if (author.id !== wire.origin || wire.hops > (wire.limit ?? hops)) return false;
    if (author.key === null) return false;
    // Checked synchronously: every delivery is checked, and Web Crypto's asynchronous verify
    // costs a hand-off to another thread and back each time (94 µs a check, measured, against
    // 47 µs here, on one thread). Synchronous checks also let a batch of messages from one
    // neighbour be handled in one turn, so their relays share frames (docs/ARCHITECTURE.md).
    try {
      return verifyNow(null, bytes, author.key, wire.sig);
    } catch {
      return false;
    }
  };

  const verified = async (
    wire: ChatWireMessage,
    bytes: Uint8Array = signedBytes(wire),
  ): Promise<boolean> => signedBy(authorOf(wire.key) ?? await learnKey(wire.key), wire, bytes);

  const reportForged = (wire: ChatWireMessage, from: PeerInfo) => {
    counts.forged++;
    if (counts.forged === 1) {
      log(
        `dropped a chat message ` +
          (wellFormed(wire)
            ? `whose signature does not match its origin ${wire.origin.slice(0, 8)}`
            : `no honest author writes (no lines, too much text, or a clock past 2^52)`) +
          `, relayed by ${from.nick} (${from.id.slice(0, 8)}): ` +
          `altered or forged on the way; later ones are counted in /stats`,
      );
    }
  };

  /** Every step of `receiving` runs in order; a failure is reported, never left unhandled. */
  const inOrder = (step: () => void | Promise<void>) => {
    receiving = receiving.then(step).catch((error) =>
      log(`could not handle a chat message: ${(error as Error).message}`)
    );
  };

  /** Line `i` of `wire` as the chat shows it. */
  const asShown = (wire: ChatWireMessage, i: number, history: boolean): ChatMessage => ({
    id: lineId(wire.id, i),
    from: { id: wire.origin, nick: wire.nick },
    text: wire.lines[i],
    hops: (wire.limit ?? hops) - wire.hops, // counted from the hop limit its author set
    sentAt: wire.sentAt,
    clock: wire.clock + i,
    direct: wire.to !== undefined,
    history,
  });

  const show = (wire: ChatWireMessage, history: boolean) => {
    nicks.set(wire.origin, wire.nick);
    if (wire.to && wire.to !== peer.id && wire.origin !== peer.id) return;
    counts.delivered += wire.lines.length;
    for (let i = 0; i < wire.lines.length; i++) {
      const message = asShown(wire, i, history);
      for (const handler of handlers) {
        try {
          handler(message);
        } catch (error) {
          log(`a chat message handler failed: ${(error as Error).message}`);
        }
      }
    }
  };

  /** Recent says, at most HISTORY_LIMIT lines in all (at least the latest say). */
  let recentLines = 0;
  const remember = (wire: ChatWireMessage) => {
    if (wire.to) return; // direct messages are not history for others
    recent.push(wire);
    recentLines += wire.lines.length;
    while (recentLines > HISTORY_LIMIT && recent.length > 1) {
      recentLines -= recent.shift()!.lines.length;
    }
  };

  /**
   * Writes a line. A broadcast line written while the previous say is being signed joins the
   * last unsigned say, while that has room (MAX_LINES lines, MAX_TEXT_LENGTH characters): lines
   * written together (a paste, a script's output) then cost one signature, one check at every
   * peer and one frame per neighbour, and a line written alone is sent at once, alone.
   */
  const originate = (text: string, to?: string): ChatMessage => {
    if (text.length > MAX_TEXT_LENGTH) {
      throw new ChatError(
        `message of ${text.length} characters is over the limit of ${MAX_TEXT_LENGTH}`,
      );
    }
    const last = unsigned.at(-1);
    // Joining keeps clocks exact: line i of a say has clock + i, so a line may join only if no
    // message seen since the say's last line moved the clock on.
    const joins = !to && last !== undefined && !last.to && last.nick === peer.nick &&
      last.lines.length < MAX_LINES && last.clock + last.lines.length - 1 === clock &&
      textLength(last.lines) + text.length <= MAX_TEXT_LENGTH;
    clock++;
    counts.sent++;
    unsignedLines++;
    unsignedChars += text.length;
    if (joins) {
      last.lines.push(text);
      return asShown(last, last.lines.length - 1, false);
    }
    const wire: ChatWireMessage = {
      id: crypto.randomUUID().replaceAll("-", ""),
      origin: peer.id,
      nick: peer.nick,
      lines: [text],
      clock,
      hops,
      limit: hops,
      sentAt: Date.now(),
      ...(to ? { to } : {}),
      key: peer.publicKey,
      sig: EMPTY_SIG,
    };
    seen.add(wire.id);
    unsigned.push(wire);
    if (unsigned.length === 1) {
      sending = sending.then(sendSigned).catch((error) =>
        log(`could not sign a chat message: ${(error as Error).message}`)
      );
    }
    return asShown(wire, 0, false);
  };

  /** Signs every say written since the last call, and sends them in order, in one turn. */
  const sendSigned = async () => {
    const batch = unsigned;
    unsigned = [];
    unsignedLines = 0;
    unsignedChars = 0;
    const signatures = await Promise.all(batch.map((wire) => peer.sign(signedBytes(wire))));
    batch.forEach((wire, i) => {
      wire.sig = signatures[i];
      remember(wire); // signed: history replies carry it
      counts.framesSent += channel.broadcast({ type: "say", ...wire });
    });
  };

  const unsubscribeMessages = channel.onMessage((body, from: PeerInfo) => {
    if (body.type === "say") {
      const { type: _type, ...wire } = body;
      // A copy of a message seen already is dropped unchecked: nothing of it is used.
      if (wire.origin === peer.id || seen.has(wire.id)) {
        counts.duplicates++;
        return;
      }
      // Malformed says are dropped before anything is built from them (a say's schema allows 64
      // lines of 4,000 characters; a well-formed one holds at most 4,000 in all).
      if (!wellFormed(wire)) return reportForged(wire, from);
      const bytes = signedBytes(wire);
      const author = authorOf(wire.key);
      if (checking === 0 && author) {
        // Nothing waits ahead of it and its author's key is known: checked and handled now.
        if (signedBy(author, wire, bytes)) onSay(wire, from);
        else reportForged(wire, from);
        return;
      }
      // A copy of a message being checked, byte for byte, is a duplicate: it will pass or fail
      // with the first. A copy that differs in anything is checked on its own.
      const first = inCheck.get(wire.id);
      if (first && sameBytes(first.bytes, bytes) && sameBytes(first.sig, wire.sig)) {
        counts.duplicates++;
        return;
      }
      // Checks are bounded: past the limit, messages are dropped rather than queued without end.
      if (checking >= MAX_CHECKING) {
        counts.overloaded++;
        if (counts.overloaded === 1) {
          log(`chat messages arrive faster than their signatures can be checked: dropping some`);
        }
        return;
      }
      checking++;
      const check = verified(wire, bytes);
      if (!first) inCheck.set(wire.id, { bytes, sig: wire.sig });
      inOrder(async () => {
        const ok = await check;
        checking--;
        if (inCheck.get(wire.id)?.bytes === bytes) inCheck.delete(wire.id);
        if (!ok) return reportForged(wire, from);
        onSay(wire, from);
      });
    } else if (body.type === "history") {
      // Taken once per request: an unasked history would be a cheap way to make us verify 100
      // signatures a frame.
      if (!asked.delete(from.id)) return;
      if (checking + body.messages.length > MAX_CHECKING) {
        counts.overloaded += body.messages.length;
        return;
      }
      checking += body.messages.length;
      const checks = body.messages.map((wire) =>
        wellFormed(wire) ? verified(wire) : Promise.resolve(false)
      );
      inOrder(async () => {
        const ok = await Promise.all(checks);
        checking -= body.messages.length;
        const good = body.messages.filter((wire, i) => {
          if (!ok[i]) reportForged(wire, from);
          return ok[i];
        });
        onHistory(good);
      });
    } else {
      inOrder(() => onRequest(body, from));
    }
  });

  const onSay = (wire: ChatWireMessage, from: PeerInfo) => {
    if (!seen.add(wire.id)) {
      counts.duplicates++; // a copy that arrived while the first was being checked
      return;
    }
    counts.received++;
    clock = Math.max(clock, wire.clock + wire.lines.length - 1) + 1;
    remember(wire);
    // Relayed first: the neighbours need not wait for this peer's screen, and a failing handler
    // must not stop the flood. A direct message stops at its recipient; everything else goes on
    // while hops remain.
    if (wire.hops > 1 && wire.to !== peer.id) {
      counts.relayed++;
      counts.framesSent += channel.broadcast(
        { type: "say", ...wire, hops: wire.hops - 1 },
        from.id,
      );
    }
    show(wire, false);
  };

  const onRequest = (body: { type: "history-request"; limit: number }, from: PeerInfo) => {
    // Only says that could still travel a hop: history must not carry a message further than
    // its hop limit would have. The latest says whose lines fit in the limit asked for.
    const messages: ChatWireMessage[] = [];
    let lines = 0;
    for (let i = recent.length - 1; i >= 0; i--) {
      const wire = recent[i];
      if (wire.hops <= 1 && wire.origin !== peer.id) continue;
      if (lines + wire.lines.length > body.limit) break;
      lines += wire.lines.length;
      messages.unshift(wire);
    }
    channel.send(from.id, { type: "history", messages }).catch(() => {});
  };

  const onHistory = (messages: ChatWireMessage[]) => {
    const fresh = messages.filter((wire) => wire.origin !== peer.id && seen.add(wire.id));
    fresh.sort((a, b) => a.clock - b.clock || a.sentAt - b.sentAt);
    for (const wire of fresh) {
      clock = Math.max(clock, wire.clock + wire.lines.length - 1) + 1;
      remember(wire);
      show(wire, true);
    }
  };
  // Late joiners catch up: each new neighbour is asked for what it has seen recently.
  const unsubscribeConnect = peer.on("peer:connected", (info) => {
    if (info.apps.includes(chatApp.name)) {
      asked.add(info.id);
      channel.send(info.id, { type: "history-request", limit: HISTORY_LIMIT }).catch(() => {});
    }
  });
  const unsubscribeDisconnect = peer.on("peer:disconnected", ({ peer: info }) => {
    asked.delete(info.id);
  });

  const resolve = (target: string): string => {
    if (target === "") {
      throw new ChatError("a direct message needs a recipient: a nickname or an id");
    }
    // A full peer id needs no introduction: the message floods to it like any other.
    if (/^[0-9a-f]{32}$/.test(target)) return target;
    // Nicknames seen on messages are newer than those neighbours announced when they connected.
    const candidates = new Map<string, string>();
    for (const info of peer.peers()) candidates.set(info.id, info.nick);
    for (const [id, nick] of nicks) candidates.set(id, nick);
    const matches = [...candidates].filter(([id, nick]) =>
      id === target || nick === target || id.startsWith(target)
    );
    const ids = [...new Set(matches.map(([id]) => id))];
    if (ids.length === 1) return ids[0];
    if (ids.length === 0) throw new ChatError(`no known peer is called "${target}"`);
    throw new ChatError(
      `"${target}" could be any of ${ids.map((id) => id.slice(0, 8)).join(", ")}; use an id`,
    );
  };

  return {
    get nick() {
      return peer.nick;
    },
    say: (text) => originate(text),
    direct: (target, text) => originate(text, resolve(target)),
    setNick: (nick) => peer.setNick(nick),
    history: () => recent.flatMap((wire) => wire.lines.map((_, i) => asShown(wire, i, true))),
    knownPeers: () => new Map(nicks),
    stats: () => ({ ...counts }),
    drained: async (bytes) => {
      // A writer is held back only once many messages (or much text) wait for their signatures:
      // waiting for every one would send each alone.
      if (bytes === undefined || unsignedLines >= MAX_UNSIGNED || unsignedChars >= bytes) {
        await sending;
      }
      await channel.drained(bytes ?? 0);
    },
    onMessage: (handler) => {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    close: () => {
      unsubscribeMessages();
      unsubscribeConnect();
      unsubscribeDisconnect();
      handlers.clear();
    },
  };
}

const EMPTY_SIG = new Uint8Array(64);
const MAX_CHECKING = 16_384;
const MAX_UNSIGNED = 1024;
/** Largest clock a say may carry (2^52): far beyond any real count, well within exact integers. */
const MAX_CLOCK = 2 ** 52;
const SAY_DOMAIN = new TextEncoder().encode("meshtalk/2 chat lines\0");

/**
 * The bytes the author of a `say` signs: a domain, then every field but `hops` (which relays
 * lower) in a fixed order, strings as a 4-byte big-endian UTF-8 length and the bytes, the lines
 * as a 4-byte count and each line as a string, numbers as 8-byte big-endian integers.
 * docs/PROTOCOL.md section 7 gives the layout.
 *
 * @example
 * ```ts
 * import { signedBytes } from "./chat.ts";
 * const bytes = signedBytes({
 *   id: "00", origin: "11", nick: "ada", lines: ["hi"], clock: 1, hops: 32, sentAt: 0,
 *   key: new Uint8Array(32), sig: new Uint8Array(64),
 * });
 * ```
 */
export function signedBytes(wire: ChatWireMessage): Uint8Array {
  const encoder = new TextEncoder();
  const [id, origin, nick, to] = [wire.id, wire.origin, wire.nick, wire.to ?? ""].map((x) =>
    encoder.encode(x)
  );
  const lines = wire.lines.map((line) => encoder.encode(line));
  const size = SAY_DOMAIN.length + [id, origin, nick, to, ...lines].reduce(
    (n, b) => n + 4 + b.length,
    0,
  ) + 4 + 3 * 8 + 32;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(SAY_DOMAIN);
  let at = SAY_DOMAIN.length;
  const putString = (bytes: Uint8Array) => {
    view.setUint32(at, bytes.length);
    out.set(bytes, at + 4);
    at += 4 + bytes.length;
  };
  const putNumber = (n: number) => {
    view.setBigUint64(at, BigInt(n));
    at += 8;
  };
  putString(id);
  putString(origin);
  putString(nick);
  view.setUint32(at, lines.length);
  at += 4;
  for (const line of lines) putString(line);
  putNumber(wire.clock);
  putNumber(wire.sentAt);
  putNumber(wire.limit ?? 0);
  putString(to);
  out.set(wire.key, at);
  return out;
}

/**
 * True if `wire` is what an honest author writes: at least one line, at most MAX_TEXT_LENGTH
 * characters in all, and clocks below MAX_CLOCK (past it a receiver's own clock, which follows the
 * largest it saw, would stop being an exact integer and its messages would fail their schema).
 */
function wellFormed(wire: ChatWireMessage): boolean {
  return wire.lines.length > 0 && textLength(wire.lines) <= MAX_TEXT_LENGTH &&
    wire.clock + wire.lines.length <= MAX_CLOCK;
}

/** The id of line `i` of the say `id`: the say's own id for its first line. */
function lineId(id: string, i: number): string {
  return i === 0 ? id : `${id}.${i}`;
}

function textLength(lines: string[]): number {
  let length = 0;
  for (const line of lines) length += line.length;
  return length;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Message ids seen recently: bounded in count and in age. */
export class SeenCache {
  readonly #ttl: number;
  readonly #max: number;
  /**
   * Id to when it was seen, in ms since the cache was made: a small integer, which V8 keeps in
   * the map itself, where `Date.now()` needs a heap number of its own per id (101 -> 85 bytes an
   * id, measured: ~8 MiB at the default 100,000 ids).
   */
  readonly #entries = new Map<string, number>();
  readonly #epoch = Date.now();

  /** Remembers ids for `ttlMs`, at most `max` of them. */
  constructor(ttlMs: number, max: number) {
    this.#ttl = ttlMs;
    this.#max = max;
  }

  /** True if `id` was seen within the time remembered. */
  has(id: string, now: number = Date.now()): boolean {
    const at = this.#entries.get(id);
    return at !== undefined && now - this.#epoch - at < this.#ttl;
  }

  /** Records `id`; returns false if it was already there (a duplicate). */
  add(id: string, now: number = Date.now()): boolean {
    const time = now - this.#epoch;
    const at = this.#entries.get(id);
    if (at !== undefined && time - at < this.#ttl) return false;
    this.#entries.delete(id);
    this.#entries.set(id, time);
    // Map keeps insertion order: the oldest entries come first.
    for (const [old, seenAt] of this.#entries) {
      if (this.#entries.size <= this.#max && time - seenAt < this.#ttl) break;
      this.#entries.delete(old);
    }
    return true;
  }

  /** Ids remembered now. */
  get size(): number {
    return this.#entries.size;
  }
}

/** DER prefix of an Ed25519 public key in SubjectPublicKeyInfo form; the 32 key bytes follow. */
const ED25519_SPKI = new Uint8Array([
  0x30,
  0x2a,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x03,
  0x21,
  0x00,
]);

/** A key to verify with, or null for bytes that are not an Ed25519 public key. */
function ed25519Key(raw: Uint8Array): KeyObject | null {
  if (raw.length !== 32) return null;
  try {
    return createPublicKey({
      key: Buffer.concat([ED25519_SPKI, raw]),
      format: "der",
      type: "spki",
    });
  } catch {
    return null;
  }
}
