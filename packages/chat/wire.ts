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
  defineApp,
  type Infer,
  type MapSchema,
  type OneOfSchema,
  type OptionalSchema,
  s,
  type StrSchema,
  type UintSchema,
} from "@meshtalk/core";

/** Longest message text, in characters; also the most text one `say` carries in all its lines. */
export const MAX_TEXT_LENGTH = 4000;
/** Most lines one `say` carries: lines written together travel together, under one signature. */
export const MAX_LINES = 64;
/** Hop limit given to new messages: more than the diameter of any mesh this is meant for. */
export const DEFAULT_HOPS = 32;
/** Most lines a `history` answer carries, and the most a peer keeps to answer with. */
export const HISTORY_LIMIT = 100;

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
    "history-request": s.map({ limit: s.uint(HISTORY_LIMIT) }),
    history: s.map({ messages: s.array(chatMessage, HISTORY_LIMIT) }),
  }),
);

/**
 * A `say` as it travels: one or more lines written together at its origin, sharing an id, a
 * Lamport clock (line `i` has `clock + i`), a hop limit and one signature. `hops` is the hops it
 * may still travel.
 */
export type ChatWireMessage = Infer<ChatMessageSchema>;

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
