/**
 * The chat app's wire form: its messages, their schemas and limits (docs/PROTOCOL.md section 7).
 *
 * A word on `hops`, which means different things in different places: on the wire a say's `hops`
 * is the number of hops it may still travel (lowered by each relay), and `limit` the number its
 * author gave it. Code here calls them `hopsLeft` and `hopLimit`; what a reader is shown
 * (`ChatMessage.hops`) is the difference, the hops travelled.
 *
 * @module
 */
import {
  type AppDefinition,
  type ArraySchema,
  type BinSchema,
  type BoolSchema,
  defineApp,
  type Infer,
  type MapSchema,
  type OneOfSchema,
  type OptionalSchema,
  s,
  type StrSchema,
  type UintSchema,
} from "@meshtalk/core";
import { MAX_RUNS } from "./announcements.ts";
import { MAX_GRAFT, MAX_SUMMARY } from "./broadcast_tree.ts";

/** Longest message text, in characters; also the most text one `say` carries in all its lines. */
export const MAX_TEXT_LENGTH = 4000;
/** Most lines one `say` carries: lines written together travel together, under one signature. */
export const MAX_LINES = 64;
/** Hop limit given to new messages: more than the diameter of any mesh this is meant for. */
export const DEFAULT_HOPS = 32;
/**
 * The `event` of a say that carries no lines but tells of its author: `nick`, its author now goes
 * by the say's `nick`.
 */
export const NICK_EVENT = "nick";
/** Most lines `Chat.history` shows. */
export const HISTORY_LIMIT = 100;
/** Most streams in a summary or an announcement. */
export const MAX_STREAMS = MAX_SUMMARY;
export { MAX_GRAFT, MAX_RUNS };

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
  epoch: UintSchema;
  n: UintSchema;
  late: OptionalSchema<BoolSchema>;
  event: OptionalSchema<StrSchema>;
}>;

/** Schema of what a peer has of one stream: all of 1..base, some up to max. */
export type StreamSummarySchema = MapSchema<
  { stream: StrSchema; base: UintSchema; max: UintSchema }
>;

/** Schema of what a lazy link announces of one stream: the runs of numbers had lately. */
export type AnnouncementSchema = MapSchema<{
  stream: StrSchema;
  runs: ArraySchema<MapSchema<{ from: UintSchema; to: UintSchema }>>;
}>;

/** Schema of every chat app message. */
export type ChatSchema = OneOfSchema<"type", {
  say: ChatMessageSchema;
  ihave: MapSchema<{ have: ArraySchema<AnnouncementSchema> }>;
  graft: MapSchema<{
    want: ArraySchema<MapSchema<{ stream: StrSchema; n: ArraySchema<UintSchema> }>>;
  }>;
  prune: MapSchema<{ streams: ArraySchema<StrSchema> }>;
  summary: MapSchema<{ streams: ArraySchema<StreamSummarySchema> }>;
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
  epoch: s.uint(),
  n: s.uint(),
  late: s.optional(s.bool()),
  event: s.optional(s.str(16)),
});

const announcement: AnnouncementSchema = s.map({
  stream: s.str(64),
  runs: s.array(s.map({ from: s.uint(), to: s.uint() }), MAX_RUNS),
});

const streamSummary: StreamSummarySchema = s.map({
  stream: s.str(64),
  base: s.uint(),
  max: s.uint(),
});

/**
 * The chat app's wire messages: pass it to `startPeer({ apps })`.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { chatApp } from "@meshtalk/chat";
 * const peer = await startPeer({ apps: [chatApp] });
 * console.log(chatApp.name); // "chat"
 * await peer.close();
 * ```
 */
export const chatApp: AppDefinition<ChatSchema> = defineApp(
  "chat",
  s.oneOf("type", {
    say: chatMessage,
    ihave: s.map({ have: s.array(announcement, MAX_STREAMS) }),
    graft: s.map({
      want: s.array(s.map({ stream: s.str(64), n: s.array(s.uint(), MAX_GRAFT) }), MAX_GRAFT),
    }),
    prune: s.map({ streams: s.array(s.str(64), MAX_GRAFT) }),
    summary: s.map({ streams: s.array(streamSummary, MAX_STREAMS) }),
  }),
);

/**
 * A `say` as it travels: one or more lines written together at its origin, sharing an id, a
 * Lamport clock (line `i` has `clock + i`), a hop limit, a place in its author's stream (`epoch`,
 * `n`) and one signature. `hops` is the hops it may still travel; `late` marks a say sent in
 * answer to a summary rather than as it was said.
 */
export type ChatWireMessage = Infer<ChatMessageSchema>;

/**
 * The stream a say belongs to: its author's, in the run that started at `epoch`.
 *
 * @example
 * ```ts
 * import { streamOfSay } from "./wire.ts";
 * console.log(streamOfSay({ origin: "ab", epoch: 1700000000000 })); // "ab.1700000000000"
 * ```
 */
export function streamOfSay(say: Pick<ChatWireMessage, "origin" | "epoch">): string {
  return `${say.origin}.${say.epoch}`;
}

/**
 * The hop limit `say`'s author gave it: its `limit`, or `ownLimit` (the receiver's) when absent.
 *
 * @example
 * ```ts
 * import { hopLimitOf } from "./wire.ts";
 * console.log(hopLimitOf({ limit: 5 }, 32), hopLimitOf({}, 32)); // 5 32
 * ```
 */
export function hopLimitOf(say: Pick<ChatWireMessage, "limit">, ownLimit: number): number {
  return say.limit ?? ownLimit;
}

/**
 * The id of line `i` of the say `id`: the say's own id for its first line.
 *
 * @example
 * ```ts
 * import { lineId } from "./wire.ts";
 * console.log(lineId("ab", 0), lineId("ab", 2)); // "ab" "ab.2"
 * ```
 */
export function lineId(id: string, i: number): string {
  return i === 0 ? id : `${id}.${i}`;
}

/**
 * Characters (UTF-16 code units) in all of `lines`: what {@linkcode MAX_TEXT_LENGTH} bounds.
 *
 * @example
 * ```ts
 * import { textLength } from "./wire.ts";
 * console.log(textLength(["ab", "cde"])); // 5
 * ```
 */
export function textLength(lines: readonly string[]): number {
  let length = 0;
  for (const line of lines) length += line.length;
  return length;
}
