/**
 * An app's view of the network: its definition (a name and the schema of its messages) and the
 * channel through which it sends, broadcasts, hears messages and sees peers that run it come and
 * go. A body is checked against the app's schema once, however many neighbours it goes to.
 *
 * @module
 */
import type { BulkFiles } from "./bulk_files.ts";
import type { Emitter } from "./emitter.ts";
import { ConnectError } from "./errors.ts";
import { HASH_BYTES } from "./hash_protocol.ts";
import type { AppMessage, AppSchema, BulkFields, FileRange, StoredData } from "./messages.ts";
import type { PeerEvents } from "./peer_events.ts";
import type { ConnectionRecord, PeerInfo, Registry } from "./registry.ts";
import { assertValid, type Infer } from "./schema.ts";
import type { PieceHashes } from "./worker_protocol.ts";

/** An app: a name that tags its messages and the schema every one of its messages must match. */
export interface AppDefinition<S extends AppSchema = AppSchema> {
  /** The app's name on the wire, at most 32 characters. */
  name: string;
  /** Schema of the app's message bodies, checked on both sides. */
  schema: S;
  /** Fields that carry bulk bytes, which connection workers can read from and write to files. */
  bulk?: BulkFields;
}

/**
 * Declares an app. Both sides must declare it with the same name to exchange its messages.
 *
 * @example
 * ```ts
 * import { defineApp, s } from "@meshtalk/core";
 * const echo = defineApp("echo", s.map({ text: s.str(1000) }));
 * ```
 */
export function defineApp<S extends AppSchema>(
  name: string,
  schema: S,
  options: { bulk?: BulkFields } = {},
): AppDefinition<S> {
  if (name.length === 0 || name.length > 32) {
    throw new RangeError("an app name has 1 to 32 characters");
  }
  return options.bulk ? { name, schema, bulk: options.bulk } : { name, schema };
}

/** A neighbour that runs an app came or went (see {@linkcode AppChannel.onPeer}). */
export type AppPeerEvent =
  | { type: "joined"; peer: PeerInfo }
  | { type: "left"; peer: PeerInfo; reason: string };

/** An app's view of the network: all an app needs and all it gets. */
export interface AppChannel<S extends AppSchema> {
  /** The connected peers that run this app. */
  peers(): PeerInfo[];
  /**
   * Calls `handler` when a neighbour that runs this app joins (its first connection completed
   * its handshake) or leaves (its last connection closed); peers that do not run the app are not
   * reported. Returns a function that unsubscribes.
   */
  onPeer(handler: (event: AppPeerEvent) => void): () => void;
  /** Sends to one connected peer; resolves once the message is queued within the peer's window. */
  send(peerId: string, body: Infer<S>): Promise<void>;
  /**
   * Sends to every neighbour running the app, but `except`; returns how many it went to. It
   * never waits: a sender of many messages should await {@linkcode drained} between them.
   */
  broadcast(body: Infer<S>, except?: string): number;
  /**
   * Sends to each of `peerIds` that is a connected neighbour running the app; returns how many it
   * went to. The body is checked once; it never waits (see {@linkcode drained}).
   */
  multicast(peerIds: Iterable<string>, body: Infer<S>): number;
  /**
   * Resolves once no neighbour running the app has more than `bytes` (default a quarter of
   * `maxQueuedBytes`) queued for it: how a fast sender keeps pace with the network.
   */
  drained(bytes?: number): Promise<void>;
  /**
   * Calls `handler` for every message of this app; returns a function that unsubscribes. When a
   * worker wrote the message's bulk bytes into a file (see {@linkcode receiveIntoFile}), the body
   * comes without them and `stored` says where they went.
   */
  onMessage(handler: (body: Infer<S>, from: PeerInfo, stored?: StoredData) => void): () => void;
  /**
   * Sends `body` with its bulk field filled from a range of a file by the connection's worker:
   * the bytes go from disk to socket without passing through this thread. Needs `bulk` fields.
   */
  sendFromFile(peerId: string, body: Record<string, unknown>, source: FileRange): Promise<void>;
  /**
   * From now on, the bulk bytes of this app's messages whose key field is `key` are written by
   * the receiving worker into `path` at the message's offset instead of being delivered; the
   * message arrives with `stored` saying what became of them. Any connected peer may send them:
   * give `size` so that bytes past the end of the file are refused rather than written.
   *
   * With `verify`, only whole pieces whose BLAKE3 hash matches are written, by the hash workers
   * (the file must exist); anything else is reported `corrupt` and never touches the disk.
   */
  receiveIntoFile(
    key: string,
    path: string,
    options?: { size?: number; verify?: PieceHashes },
  ): void;
  /** Stops {@linkcode receiveIntoFile} for `key`. */
  stopReceiving(key: string): void;
  /**
   * BLAKE3-256 of pieces of a file (all, or `pieces`), 32 bytes apiece in the order asked,
   * computed by the peer's hash workers on every core. Rejects with a `HashError` if the file
   * cannot be read.
   */
  hashPieces(
    path: string,
    pieceSize: number,
    options?: { pieces?: number[]; onProgress?: (done: number, total: number) => void },
  ): Promise<Uint8Array>;
}

/** What a channel needs of its peer. */
export interface ChannelHost {
  /** The peer's connections: a channel sends on the open ones. */
  registry: Registry;
  /** The peer's events: a channel hears messages and peers through them. */
  events: Emitter<PeerEvents>;
  /** Sinks and hash workers. */
  files: BulkFiles;
  /** Unsent bytes queued for one peer past which it is dropped (the peer's `maxQueuedBytes`). */
  maxQueuedBytes: number;
  /** Largest frame body (the peer's `maxFrameSize`). */
  maxFrameSize: number;
}

/**
 * The channel of `definition` on the peer `host` describes.
 *
 * @example
 * ```ts
 * import { appChannel, defineApp } from "./app_channel.ts";
 * import { BulkFiles } from "./bulk_files.ts";
 * import { peerEmitter } from "./peer_events.ts";
 * import { Registry } from "./registry.ts";
 * import { s } from "./schema.ts";
 * const notes = defineApp("notes", s.map({ text: s.str(280) }));
 * const channel = appChannel(notes, {
 *   registry: new Registry("4f1c0000000000000000000000000000"),
 *   events: peerEmitter(console.error),
 *   files: new BulkFiles(() => [], () => false),
 *   maxQueuedBytes: 2 ** 24,
 *   maxFrameSize: 2 ** 21,
 * });
 * console.log(channel.broadcast({ text: "nobody hears this" })); // 0
 * ```
 */
export function appChannel<S extends AppSchema>(
  definition: AppDefinition<S>,
  host: ChannelHost,
): AppChannel<S> {
  const { name, schema } = definition;
  const { registry, events, files } = host;
  const runsApp = (info: { apps: string[] }) => info.apps.includes(name);
  const neighbours = () => [...registry.byId.values()].filter((r) => runsApp(r.remote!));
  const connected = (peerId: string): ConnectionRecord => {
    const record = registry.byId.get(peerId);
    if (!record) throw new ConnectError("closed", `not connected to peer ${peerId}`);
    return record;
  };
  const closing = (peerId: string) =>
    new ConnectError("closed", `connection to peer ${peerId} is closing`);
  const halfQueue = host.maxQueuedBytes / 4;
  /** The message of a body, checked against the app's schema, and its send credit. */
  const message = (body: Record<string, unknown>): [AppMessage, number] => {
    assertValid(schema, body, `${name} message`);
    return [{ t: "app", app: name, body }, estimateSize(body)];
  };
  // Typed loosely here and cast once: TypeScript cannot resolve Infer<S> for a generic S.
  const channel = {
    peers: () => registry.peers().filter(runsApp),
    onPeer: (handler: (event: AppPeerEvent) => void) => {
      const offJoined = events.on("peer:connected", (peer) => {
        if (runsApp(peer)) handler({ type: "joined", peer });
      });
      const offLeft = events.on("peer:disconnected", ({ peer, reason }) => {
        if (runsApp(peer)) handler({ type: "left", peer, reason });
      });
      return () => {
        offJoined();
        offLeft();
      };
    },
    send: async (peerId: string, body: Record<string, unknown>) => {
      const record = connected(peerId);
      if (!record.connection.send(...message(body))) throw closing(peerId);
      await record.connection.drained(halfQueue);
    },
    broadcast: (body: Record<string, unknown>, except?: string) => {
      const [app, credit] = message(body);
      let count = 0;
      for (const record of neighbours()) {
        if (record.remote!.id !== except && record.connection.send(app, credit)) count++;
      }
      return count;
    },
    multicast: (peerIds: Iterable<string>, body: Record<string, unknown>) => {
      const [app, credit] = message(body);
      let count = 0;
      for (const peerId of peerIds) {
        const record = registry.byId.get(peerId);
        if (record && runsApp(record.remote!) && record.connection.send(app, credit)) count++;
      }
      return count;
    },
    drained: async (bytes = halfQueue) => {
      await Promise.all(neighbours().map((r) => r.connection.drained(bytes)));
    },
    onMessage: (
      handler: (body: Record<string, unknown>, from: PeerInfo, stored?: StoredData) => void,
    ) =>
      events.on("message", (event) => {
        if (event.app === name) handler(event.body, event.from, event.stored);
      }),
    sendFromFile: async (peerId: string, body: Record<string, unknown>, source: FileRange) => {
      const bulk = definition.bulk;
      if (!bulk) throw new Error(`app "${name}" declares no bulk fields`);
      const record = connected(peerId);
      if (source.length > host.maxFrameSize - 4096) {
        throw new RangeError(`${source.length} bytes do not fit in one frame; send them in parts`);
      }
      assertValid(schema, { ...body, [bulk.data]: new Uint8Array(0) }, `${name} message`);
      const { [bulk.data]: _omit, ...rest } = body;
      const app: AppMessage = { t: "app", app: name, body: rest };
      if (!record.connection.send(app, estimateSize(rest) + source.length, source)) {
        throw closing(peerId);
      }
      await record.connection.drained(halfQueue);
    },
    receiveIntoFile: (
      key: string,
      path: string,
      options: { size?: number; verify?: PieceHashes } = {},
    ) => {
      if (!definition.bulk) throw new Error(`app "${name}" declares no bulk fields`);
      const { size, verify } = options;
      if (verify) {
        if (size === undefined) throw new TypeError("a verifying sink needs the file's size");
        const pieces = Math.ceil(size / verify.pieceSize);
        if (verify.hashes.length !== pieces * HASH_BYTES) {
          throw new RangeError(
            `${size} bytes in pieces of ${verify.pieceSize} need ${pieces} hashes of ${HASH_BYTES} bytes`,
          );
        }
        files.hashPool();
      }
      files.setSink({
        type: "sink",
        app: name,
        key,
        path,
        ...(size === undefined ? {} : { size }),
        ...(verify ? { verify } : {}),
      });
    },
    stopReceiving: (key: string) => {
      files.setSink({ type: "sink", app: name, key, path: null });
    },
    hashPieces: (
      path: string,
      pieceSize: number,
      options?: { pieces?: number[]; onProgress?: (done: number, total: number) => void },
    ) => files.hashPool().hashPieces(path, pieceSize, options),
  };
  return channel as unknown as AppChannel<S>;
}

/** A cheap upper bound of a value's MessagePack size: the send credit of a message. */
function estimateSize(value: unknown): number {
  if (typeof value === "string") return 5 + value.length * 3;
  if (value instanceof Uint8Array) return 5 + value.length;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + estimateSize(v), 5);
  if (typeof value === "object" && value !== null) {
    let n = 5;
    for (const key in value) {
      n += estimateSize(key) + estimateSize((value as Record<string, unknown>)[key]);
    }
    return n;
  }
  return 9;
}
