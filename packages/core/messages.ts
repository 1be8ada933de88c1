/**
 * The core's wire messages and their schemas. Every frame body is one of these, told apart by
 * its `t` field; `app` messages carry a body whose schema the app declared.
 *
 * @module
 */
import type { Address } from "./address.ts";
import { ProtocolError } from "./errors.ts";
import { type MapSchema, s, type Schema, validateUntyped } from "./schema.ts";

/** The protocol version this code speaks; a `hello` with another is refused. */
export const PROTOCOL_VERSION = 2;

/** Longest nickname, in characters. */
export const MAX_NICK_LENGTH = 32;
/**
 * Machine-readable `bye` codes. `user`: the user chose to disconnect, do not redial; `duplicate`:
 * another connection between the same two peers replaces this one.
 */
export type ByeCode = typeof BYE_CODES[number];

/** Every {@linkcode ByeCode}: a `bye` with any other code is read as one without a code. */
export const BYE_CODES = [
  "user",
  "duplicate",
  "shutdown",
  "full",
  "timeout",
  "slow",
  "protocol",
  "self",
  "limit",
  "rebalance",
] as const;

/** Most addresses in one `peers` message. */
export const MAX_PEERS_PER_MESSAGE = 64;

/**
 * Opens every connection, in the clear: the protocol version and a fresh X25519 public key.
 * Nothing about who the sender is travels before encryption starts.
 */
export interface Hello {
  /** Tag. */
  t: "hello";
  /** Protocol version; must equal {@linkcode PROTOCOL_VERSION}. */
  v: number;
  /** Raw X25519 public key of this connection's ephemeral key pair, 32 bytes. */
  e: Uint8Array;
}

/**
 * The first encrypted frame each side sends: who it is, proven by signing the handshake
 * transcript with the Ed25519 key whose hash is its peer id.
 */
export interface Auth {
  /** Tag. */
  t: "auth";
  /** Raw Ed25519 public key, 32 bytes; the peer id is derived from it. */
  key: Uint8Array;
  /** Ed25519 signature, 64 bytes; see docs/PROTOCOL.md for what is signed. */
  sig: Uint8Array;
  /** Where the sender listens, if it does. */
  listen?: Address;
  /** Nickname, at most {@linkcode MAX_NICK_LENGTH} characters. */
  nick: string;
  /** Names of the apps the sender runs. */
  apps: string[];
  /**
   * The acceptor has no room: once the dialer's auth checks out it sends `peers` (where else to
   * go) and `bye` with code `full`, and the connection ends.
   */
  full?: boolean;
}

/** Asks for a `pong` with the same `n`. */
export interface Ping {
  /** Tag. */
  t: "ping";
  /** Sequence number. */
  n: number;
}

/** Answers a `ping`. */
export interface Pong {
  /** Tag. */
  t: "pong";
  /** The `n` of the ping answered. */
  n: number;
}

/** Addresses the sender knows peers at. */
export interface Peers {
  /** Tag. */
  t: "peers";
  /**
   * At most {@linkcode MAX_PEERS_PER_MESSAGE} addresses, with the peer id when known; `linked`
   * marks the sender's own neighbours.
   */
  peers: { id?: string; host: string; port: number; linked?: boolean }[];
}

/** The sender is closing the connection. */
export interface Bye {
  /** Tag. */
  t: "bye";
  /** Why, for people. */
  reason: string;
  /** Why, for programs; a code this side does not know is read as absent. */
  code?: ByeCode;
}

/** Any core message as it travels; `app` bodies are checked against their app's schema. */
export type CoreMessage = Hello | Auth | Ping | Pong | Peers | Bye | AppMessage;

const address = s.map({ host: s.str(255), port: s.uint(65535) });

/** Schema of every core message but `app`, tagged by `t`. */
export const coreMessage: Schema = s.oneOf("t", {
  hello: s.map({ v: s.uint(), e: s.bin(32, 32) }),
  auth: s.map({
    key: s.bin(32, 32),
    sig: s.bin(64, 64),
    listen: s.optional(address),
    nick: s.str(MAX_NICK_LENGTH),
    apps: s.array(s.str(32), 16),
    full: s.optional(s.bool()),
  }),
  ping: s.map({ n: s.uint() }),
  pong: s.map({ n: s.uint() }),
  peers: s.map({
    peers: s.array(
      s.map({
        id: s.optional(s.str(64)),
        host: s.str(255),
        port: s.uint(65535),
        linked: s.optional(s.bool()),
      }),
      MAX_PEERS_PER_MESSAGE,
    ),
  }),
  bye: s.map({ reason: s.str(200), code: s.optional(s.str(32)) }),
});

/** An `app` message: the app's name and a body valid under that app's schema. */
export interface AppMessage {
  /** Tag. */
  t: "app";
  /** Which app the body belongs to. */
  app: string;
  /** The app's message, already checked against its schema. */
  body: Record<string, unknown>;
  /**
   * Never on the wire: set by the receiving worker when it wrote the message's bulk field into a
   * file instead of delivering it (see `AppChannel.receiveIntoFile`).
   */
  stored?: StoredData;
}

/** What a receiving worker did with a message's bulk bytes. */
export interface StoredData {
  /** The file they were for. */
  path: string;
  /** Where in it. */
  offset: number;
  /** How many bytes. */
  length: number;
  /**
   * `written`: they are in the file (and matched their piece hash, for a verifying sink).
   * `corrupt`: they did not match their piece hash, or were not a whole piece; nothing was
   * written. `failed`: the file could not be written (`reason` says why).
   */
  status: "written" | "corrupt" | "failed";
  /** Why they were not written. */
  reason?: string;
}

/** Names the fields of an app message that carry bulk bytes, so workers can move them to and from files. */
export interface BulkFields {
  /** The bin field holding the bytes; it must be the body's last field when sent from a file. */
  data: string;
  /** A string field that names the sink the bytes go to on the receiving side. */
  key: string;
  /** A uint field: the offset at which the bytes go in that sink's file. */
  offset: string;
}

/** A range of a file to send as a message's bulk bytes. */
export interface FileRange {
  /** Path of the file. */
  path: string;
  /** First byte. */
  offset: number;
  /** Number of bytes. */
  length: number;
}
/** A message after validation. */
export type Message = CoreMessage;

/**
 * Checks a decoded frame body. Core messages are checked against {@linkcode coreMessage}; the
 * body of an `app` message against the schema of its app in `apps`, and an app not in `apps` is
 * an `unknown-app` error.
 *
 * @example
 * ```ts
 * import { parseMessage } from "@meshtalk/core/protocol";
 * const message = parseMessage({ t: "ping", n: 3 }, {}); // { t: "ping", n: 3 }
 * ```
 */
export function parseMessage(
  value: unknown,
  apps: Record<string, Schema>,
  copyBinary = true,
): Message {
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
      body: validateUntyped(schema, body, `${app} message`, copyBinary) as Record<string, unknown>,
    };
  }
  const message = validateUntyped(coreMessage, value) as Message;
  if (message.t === "bye" && message.code !== undefined && !BYE_CODES.includes(message.code)) {
    delete message.code; // a newer peer's reason: still a bye
  }
  return message;
}

/** Schema type of an app's messages: a map, or a tagged union of maps. */
export type AppSchema = MapSchema | Extract<Schema, { kind: "oneOf" }>;
