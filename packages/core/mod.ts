/**
 * The meshtalk core: a peer that listens and dials, encrypted and mutually authenticated
 * connections (docs/SECURITY.md), a peer registry, and a connection runtime that services each
 * connection in its own Web Worker. Apps (chat, files) use {@linkcode startPeer},
 * {@linkcode defineApp} and the {@linkcode AppChannel} they get, and the small helpers below.
 * Wire-level types are in `@meshtalk/core/protocol`; test support in `@meshtalk/core/testing`.
 *
 * @example
 * ```ts
 * import { defineApp, s, startPeer } from "@meshtalk/core";
 * const notes = defineApp("notes", s.map({ text: s.str(280) }));
 * const peer = await startPeer({ port: 0, apps: [notes] });
 * peer.app(notes).onMessage((note, from) => console.log(from.nick, note.text));
 * await peer.close();
 * ```
 *
 * @module
 */
export {
  type AppChannel,
  type AppDefinition,
  type AppPeerEvent,
  type ConnectOptions,
  defineApp,
  type Peer,
  type PeerEvents,
  type PeerInfo,
  type PeerOptions,
  startPeer,
  type Traffic,
} from "./peer.ts";
export { type Address, formatAddress, parseAddress, sameAddress } from "./address.ts";
export { Backoff, type BackoffOptions, delayAfter } from "./backoff.ts";
export { BoundedMap, BoundedSet } from "./bounded.ts";
export { aeadPath, blake3Path } from "./crypto_paths.ts";
export { bytesEqual, concatBytes, fromHex, startsWithBytes, toHex } from "./bytes.ts";
export type { DiscoveryStats, PeerDiscoveryStats } from "./discovery.ts";
export {
  DEFAULT_ROOM,
  DISCOVERY_GROUP,
  DISCOVERY_PORT,
  type DiscoverySettings,
} from "./discovery_settings.ts";
export { createVerifier, type Ed25519Verifier } from "./ed25519.ts";
export { Emitter } from "./emitter.ts";
export {
  ConnectError,
  type ConnectErrorReason,
  ProtocolError,
  type ProtocolErrorCode,
} from "./errors.ts";
export { blake3, HashError } from "./hash_pool.ts";
export { HASH_BYTES } from "./hash_protocol.ts";
export {
  generateIdentity,
  type Identity,
  IdentityError,
  loadOrCreateIdentity,
  peerIdFromKey,
  verifySignature,
} from "./identity.ts";
export type { AppSchema, BulkFields, FileRange, StoredData } from "./messages.ts";
export type { KnownAddress } from "./address_book.ts";
export {
  type ArraySchema,
  assertValid,
  type BinSchema,
  type BoolSchema,
  type Fields,
  type Infer,
  type LiteralSchema,
  type MapSchema,
  type OneOfSchema,
  type OptionalSchema,
  s,
  type Schema,
  type SchemaBuilders,
  type StrSchema,
  type UintSchema,
  validate,
  type Variants,
} from "./schema.ts";
export type { PieceHashes } from "./worker_protocol.ts";
