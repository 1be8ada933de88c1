/**
 * The core's wire messages and their schemas. Every frame body is one of these, told apart by
 * its `t` field; `app` messages carry a body whose schema the app declared.
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";
import { type Infer, type MapSchema, s, type Schema, validateUntyped } from "./schema.ts";

/** The protocol version this code speaks; a `hello` with another is refused. */
export const PROTOCOL_VERSION = 1;

/** Longest nickname, in characters. */
export const MAX_NICK_LENGTH = 32;
/**
 * Machine-readable `bye` codes. `user`: the user chose to disconnect, do not redial; `duplicate`:
 * another connection between the same two peers replaces this one.
 */
export type ByeCode =
  | "user"
  | "duplicate"
  | "shutdown"
  | "full"
  | "timeout"
  | "slow"
  | "protocol"
  | "self";

/** Most addresses in one `peers` message. */
export const MAX_PEERS_PER_MESSAGE = 64;

const address = s.map({ host: s.str(255), port: s.uint(65535) });

/** Schema of every core message, tagged by `t`. `app` bodies are checked separately. */
export const coreMessage = s.oneOf("t", {
  hello: s.map({
    v: s.uint(),
    id: s.str(64),
    key: s.bin(32, 32),
    nonce: s.bin(32, 32),
    listen: s.optional(address),
    nick: s.str(MAX_NICK_LENGTH),
    apps: s.array(s.str(32), 16),
  }),
  auth: s.map({ sig: s.bin(64, 64) }),
  ping: s.map({ n: s.uint() }),
  pong: s.map({ n: s.uint() }),
  peers: s.map({
    peers: s.array(
      s.map({ id: s.optional(s.str(64)), host: s.str(255), port: s.uint(65535) }),
      MAX_PEERS_PER_MESSAGE,
    ),
  }),
  bye: s.map({ reason: s.str(200), code: s.optional(s.str(32)) }),
  app: s.map({ app: s.str(32), body: s.map({}) }),
});

/** Any core message as it travels. */
export type CoreMessage = Infer<typeof coreMessage>;
/** The `hello` a peer opens every connection with. */
export type Hello = Extract<CoreMessage, { t: "hello" }>;
/** A network address a peer listens on. */
export type Address = Infer<typeof address>;
/** An `app` message: the app's name and a body valid under that app's schema. */
export interface AppMessage {
  /** Tag. */
  t: "app";
  /** Which app the body belongs to. */
  app: string;
  /** The app's message, already checked against its schema. */
  body: Record<string, unknown>;
}
/** A message after validation: core messages, and app messages with their checked body. */
export type Message = Exclude<CoreMessage, { t: "app" }> | AppMessage;

/**
 * Checks a decoded frame body. Core messages are checked against {@linkcode coreMessage}; the
 * body of an `app` message against the schema of its app in `apps`, and an app not in `apps` is
 * an `unknown-app` error.
 *
 * @example
 * ```ts
 * import { parseMessage } from "@meshtalk/core";
 * const message = parseMessage({ t: "ping", n: 3 }, {}); // { t: "ping", n: 3 }
 * ```
 */
export function parseMessage(value: unknown, apps: Record<string, Schema>): Message {
  if (typeof value === "object" && value !== null && (value as { t?: unknown }).t === "app") {
    const { app, body } = value as { app?: unknown; body?: unknown };
    if (typeof app !== "string") throw new ProtocolError("bad-message", "message.app: missing");
    const schema = Object.hasOwn(apps, app) ? apps[app] : undefined;
    if (!schema) {
      throw new ProtocolError(
        "unknown-app",
        `message for app "${app.slice(0, 32)}", which this peer does not run`,
      );
    }
    return {
      t: "app",
      app,
      body: validateUntyped(schema, body, `${app} message`) as Record<string, unknown>,
    };
  }
  return validateUntyped(coreMessage, value) as Message;
}

/** Schema type of an app's messages: a map, or a tagged union of maps. */
export type AppSchema = MapSchema | Extract<Schema, { kind: "oneOf" }>;
