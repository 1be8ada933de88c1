/**
 * A peer: it listens and dials, keeps at most one connection per peer id, keeps its mesh at a
 * target size from an address book fed by peer exchange, checks liveness with heartbeats, and
 * gives apps a small interface: send to one, broadcast to all, hear messages and peer events.
 *
 * @module
 */
import { startsWithBytes } from "./bytes.ts";
import { Connection, type ConnectionSetup, ringBytesFor } from "./connection.ts";
import { ConnectError, type ProtocolError } from "./errors.ts";
import { DEFAULT_MAX_FRAME_SIZE, encodeFrame } from "./frame.ts";
import { generateIdentity, type Identity, loadOrCreateIdentity } from "./identity.ts";
import {
  type AppSchema,
  type BulkFields,
  type ByeCode,
  type FileRange,
  MAX_NICK_LENGTH,
  MAX_PEERS_PER_MESSAGE,
  type Message,
  type StoredData,
} from "./messages.ts";
import {
  AddressBook,
  addressKey,
  type ConnectionRecord,
  type KnownAddress,
  preferredConnection,
} from "./registry.ts";
import { assertValid, type Infer } from "./schema.ts";
import type { PieceHashes, RemoteHello, SinkRequest } from "./worker_protocol.ts";
import { HashPool } from "./hash_pool.ts";
import { HASH_BYTES } from "./hash_protocol.ts";
import { AUTH_DOMAIN } from "./secure.ts";

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

/** How to start a peer. Every field has a default. */
export interface PeerOptions {
  /** TCP port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on; default `0.0.0.0` (all interfaces). */
  host?: string;
  /** The identity to use. Default: loaded from (or created in) `dataDir`, else a fresh one in memory. */
  identity?: Identity;
  /** Directory holding the peer's key pair. */
  dataDir?: string;
  /** Nickname announced in `hello`. */
  nick?: string;
  /** The apps this peer runs. */
  apps?: AppDefinition[];
  /** Most connections at once, open or handshaking (default 64). */
  maxConnections?: number;
  /**
   * Most connections at once with one remote IP address (default 16): one host cannot take
   * every slot. Loopback counts as one address like any other.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Messages a second one connection may send us (a frame may hold several), on average, with
   * bursts of twice that (default 10,000). A peer over it is dropped (`bye` code `limit`) and its
   * address backed off.
   */
  maxFramesPerSecond?: number;
  /**
   * Bytes a second one connection may send us (default 1 GiB). Past it we read that connection
   * more slowly (TCP backpressure), since a fast transfer is no offence. 0 turns it off.
   */
  maxBytesPerSecond?: number;
  /** How long an address dropped for breaking a limit is refused, doubling per offence (default 10,000 ms). */
  penaltyMs?: number;
  /** Most inbound connections still in their handshake (default 16); more are refused at once. */
  maxPendingHandshakes?: number;
  /** Connections upkeep tries to keep by dialing known addresses (default 8; 0 disables). */
  targetConnections?: number;
  /** Largest frame body accepted (default 2 MiB). */
  maxFrameSize?: number;
  /** Unsent bytes queued for one peer past which it is dropped as too slow (default 16 MiB). */
  maxQueuedBytes?: number;
  /** Time allowed for the handshake, from our hello (default 10,000 ms). */
  handshakeTimeoutMs?: number;
  /** Interval between pings to each neighbour (default 2000 ms). */
  heartbeatIntervalMs?: number;
  /** Silence after which a neighbour is declared dead (default 10000 ms). */
  heartbeatTimeoutMs?: number;
  /** Close connections that carried no app message for this long (default 0: never). */
  idleTimeoutMs?: number;
  /** Where connection errors are reported (default `console.error`). */
  log?: (line: string) => void;
}

/** A connected peer as the registry knows it. */
export interface PeerInfo {
  /** Its peer id. */
  id: string;
  /** The nickname it announced. */
  nick: string;
  /** Where it listens, as seen from here (`host:port`), if it announced a port. */
  address: string | null;
  /** The other end of the socket (`host:port`). */
  remoteAddress: string;
  /** Who dialed. */
  direction: "inbound" | "outbound";
  /** Where the connection is in its life. */
  state: "handshaking" | "open" | "closing";
  /** Last heartbeat round-trip time in milliseconds, once measured. */
  rttMs: number | null;
  /** The apps it runs. */
  apps: string[];
  /** When the connection opened (ms since epoch). */
  connectedAt: number;
}

/** What a peer reports. */
export interface PeerEvents {
  /** A peer's first connection completed its handshake. */
  "peer:connected": PeerInfo;
  /** A peer's last connection closed. */
  "peer:disconnected": { peer: PeerInfo; reason: string };
  /** An app message arrived, already checked against the app's schema. */
  message: { from: PeerInfo; app: string; body: Record<string, unknown>; stored?: StoredData };
  /** A connection failed: a protocol violation, a refused dial, a dead peer. */
  error: { address: string; peer?: PeerInfo; error: Error };
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

/** A running peer. */
export interface Peer {
  /** This peer's id. */
  readonly id: string;
  /** The port it listens on. */
  readonly port: number;
  /** Its nickname. */
  readonly nick: string;
  /**
   * Dials host:port and completes the encrypted, mutually authenticated handshake; resolves with
   * the peer there. With `expectPeer`, the peer must prove that id (the full 32 hex characters):
   * any other is refused and the promise rejects with a {@linkcode ConnectError} whose reason is
   * `wrong-peer`.
   *
   * @example
   * ```ts ignore
   * const info = await peer.connect("10.0.0.7", 7000, { expectPeer: "4f1c...e2" });
   * ```
   */
  connect(host: string, port: number, options?: ConnectOptions): Promise<PeerInfo>;
  /** This peer's raw Ed25519 public key; its id is derived from it (see `peerIdFromKey`). */
  readonly publicKey: Uint8Array;
  /**
   * Signs `data` with this peer's Ed25519 identity key: 64 bytes that anyone can check against
   * {@linkcode Peer.publicKey} with `verifySignature`. Apps sign what they originate (chat signs
   * every message) so that peers relaying it cannot alter it. Sign only data whose first bytes
   * name your app and purpose, so that a signature made for one use cannot pass for another: the
   * core's own handshake signatures begin with "meshtalk/2 auth", and data that does is refused
   * (`RangeError`).
   *
   * @example
   * ```ts ignore
   * const data = new TextEncoder().encode("myapp/1 note\0hello");
   * const sig = await peer.sign(data);
   * console.log(await verifySignature(peer.publicKey, sig, data)); // true
   * ```
   */
  sign(data: Uint8Array): Promise<Uint8Array>;
  /** Closes the connection to a peer (by id, `host:port` or port) and keeps it from being redialed. */
  disconnect(target: string): Promise<PeerInfo | null>;
  /** The connected peers: one entry per peer, its open connection. */
  peers(): PeerInfo[];
  /** Every connection, handshaking and closing ones too (`id` is "" until the handshake). */
  connections(): PeerInfo[];
  /** The address book. */
  addresses(): KnownAddress[];
  /** Adds an address to the book: upkeep dials it (with backoff) while below its target. */
  addAddress(host: string, port: number): void;
  /** Changes the nickname announced in future handshakes. */
  setNick(nick: string): void;
  /** The channel of one of this peer's apps. */
  app<S extends AppSchema>(definition: AppDefinition<S>): AppChannel<S>;
  /** Subscribes to an event; returns a function that unsubscribes. */
  on<E extends keyof PeerEvents>(event: E, handler: (detail: PeerEvents[E]) => void): () => void;
  /** Measures one round trip to a connected peer, in milliseconds. */
  ping(peerId: string): Promise<number>;
  /** Says `bye` to every peer, closes every connection, worker, timer and the listener. */
  close(): Promise<void>;
}

/** Options of {@linkcode Peer.connect}. */
export interface ConnectOptions {
  /** The id (32 lowercase hex characters) the peer dialed must prove, or the dial fails. */
  expectPeer?: string;
}

interface Record_ extends ConnectionRecord {
  ready: PromiseWithResolvers<PeerInfo>;
  /** The other side dropped this one as a duplicate: another connection is on its way. */
  replaced?: boolean;
  lastAppAt: number;
  pings: Map<number, { waiter: PromiseWithResolvers<number>; sentAt: number }>;
  /** `peers` received before the handshake on a connection we dialed: used if it refuses us. */
  refusalPeers?: { id?: string; host: string; port: number }[];
}

/**
 * Starts a peer listening on `options.port`.
 *
 * @example
 * ```ts
 * import { defineApp, s, startPeer } from "@meshtalk/core";
 * const echo = defineApp("echo", s.map({ text: s.str(100) }));
 * const a = await startPeer({ apps: [echo] });
 * const b = await startPeer({ apps: [echo] });
 * b.app(echo).onMessage((body) => console.log(body.text));
 * await a.connect("127.0.0.1", b.port);
 * a.app(echo).broadcast({ text: "hello" });
 * await a.close();
 * await b.close();
 * ```
 */
export async function startPeer(options: PeerOptions = {}): Promise<Peer> {
  const identity = options.identity ??
    (options.dataDir ? await loadOrCreateIdentity(options.dataDir) : await generateIdentity());
  const listener = Deno.listen({ hostname: options.host ?? "0.0.0.0", port: options.port ?? 0 });
  return new MeshPeer(identity, listener, options, false);
}

/**
 * For the benchmark's baseline only: a peer whose frames are not encrypted after the handshake
 * (the handshake itself is unchanged), so that `deno task bench` can measure what encryption
 * costs. It is not exported from `mod.ts` nor reachable from any CLI, and it can only talk to
 * peers started the same way. Never use it for anything else.
 *
 * @example
 * ```ts ignore
 * import { startUnencryptedPeerForBenchmark } from "../packages/core/peer.ts";
 * const baseline = await startUnencryptedPeerForBenchmark({ host: "127.0.0.1" });
 * await baseline.close();
 * ```
 */
export async function startUnencryptedPeerForBenchmark(options: PeerOptions = {}): Promise<Peer> {
  const identity = options.identity ?? await generateIdentity();
  const listener = Deno.listen({ hostname: options.host ?? "0.0.0.0", port: options.port ?? 0 });
  return new MeshPeer(identity, listener, options, true);
}

class MeshPeer implements Peer {
  readonly id: string;
  readonly port: number;
  readonly publicKey: Uint8Array;
  nick: string;
  readonly #identity: Identity;
  readonly #listener: Deno.TcpListener;
  /** Remote hosts dropped for breaking a limit: refused until `until`. */
  readonly #penalties = new Map<string, { until: number; strikes: number }>();
  readonly #setup: ConnectionSetup;
  readonly #apps = new Map<string, AppDefinition>();
  readonly #records = new Set<Record_>();
  readonly #byId = new Map<string, Record_>();
  readonly #dialing = new Map<string, Promise<PeerInfo>>();
  readonly #book = new AddressBook();
  readonly #sinks = new Map<string, SinkRequest>();
  #pool: HashPool | null = null;
  /** Peers whose chosen connection the other side dropped as a duplicate, awaiting its twin. */
  readonly #departing = new Map<string, { info: PeerInfo; reason: string; until: number }>();
  readonly #handlers = new Map<string, Set<(detail: never) => void>>();
  readonly #options: Required<
    Omit<PeerOptions, "identity" | "dataDir" | "apps" | "host" | "port" | "nick">
  >;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #accepting: Promise<void>;
  #closing: Promise<void> | null = null;
  #lastExchangeAt = 0;

  constructor(
    identity: Identity,
    listener: Deno.TcpListener,
    options: PeerOptions,
    plaintext: boolean,
  ) {
    this.id = identity.id;
    this.publicKey = identity.publicKey;
    this.#identity = identity;
    this.#listener = listener;
    this.port = listener.addr.port;
    this.nick = (options.nick ?? `peer-${this.id.slice(0, 6)}`).slice(0, MAX_NICK_LENGTH);
    for (const app of options.apps ?? []) this.#apps.set(app.name, app);
    this.#options = {
      maxConnections: options.maxConnections ?? 64,
      maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? 16,
      maxFramesPerSecond: options.maxFramesPerSecond ?? 10_000,
      maxBytesPerSecond: options.maxBytesPerSecond ?? 2 ** 30,
      penaltyMs: options.penaltyMs ?? 10_000,
      maxPendingHandshakes: options.maxPendingHandshakes ?? 16,
      targetConnections: options.targetConnections ?? 8,
      maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
      maxQueuedBytes: options.maxQueuedBytes ?? 16 * 2 ** 20,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 2000,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 0,
      log: options.log ?? ((line) => console.error(line)),
    };
    const bound = listener.addr.hostname;
    this.#setup = {
      identity,
      nick: this.nick,
      listen: { host: bound === "0.0.0.0" || bound === "::" ? "" : bound, port: this.port },
      apps: Object.fromEntries([...this.#apps].map(([name, app]) => [name, app.schema])),
      bulk: Object.fromEntries(
        [...this.#apps].flatMap(([name, app]) => app.bulk ? [[name, app.bulk]] : []),
      ),
      sinks: [],
      maxFrameSize: this.#options.maxFrameSize,
      maxQueuedBytes: this.#options.maxQueuedBytes,
      ringBytes: ringBytesFor([...this.#apps.values()].some((app) => app.bulk !== undefined)),
      limits: {
        framesPerSecond: this.#options.maxFramesPerSecond,
        bytesPerSecond: this.#options.maxBytesPerSecond,
      },
      ...(plaintext ? { plaintext: true } : {}),
    };
    const tick = Math.max(10, Math.min(1000, this.#options.heartbeatIntervalMs / 2));
    this.#timer = setInterval(() => this.#tick(), tick);
    this.#accepting = this.#acceptLoop();
  }

  connect(host: string, port: number, options: ConnectOptions = {}): Promise<PeerInfo> {
    const expectPeer = options.expectPeer;
    if (expectPeer !== undefined && !/^[0-9a-f]{32}$/.test(expectPeer)) {
      return Promise.reject(
        new TypeError(
          `expectPeer must be a full peer id (32 lowercase hex characters), not "${expectPeer}"`,
        ),
      );
    }
    this.#book.setBlocked({ host, port }, false);
    return this.#dial(host, port, expectPeer);
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    // The handshake's signatures are the core's alone: an app must not be made to sign one.
    if (startsWithBytes(data, AUTH_DOMAIN)) {
      throw new RangeError(
        `refusing to sign data that begins "meshtalk/2 auth": that prefix is the handshake's`,
      );
    }
    return new Uint8Array(
      await crypto.subtle.sign("Ed25519", this.#identity.privateKey, data as BufferSource),
    );
  }

  async disconnect(target: string): Promise<PeerInfo | null> {
    const record = this.#find(target);
    if (!record?.remote) return null;
    const info = this.#info(record);
    this.#book.setBlocked({ id: record.remote.id }, true);
    if (record.dialed) this.#book.setBlocked(record.dialed, true);
    await record.connection.close("disconnected by user", "user");
    return info;
  }

  peers(): PeerInfo[] {
    return [...this.#byId.values()].map((r) => this.#info(r));
  }

  connections(): PeerInfo[] {
    return [...this.#records].map((r) => this.#info(r));
  }

  addresses(): KnownAddress[] {
    return this.#book.list();
  }

  addAddress(host: string, port: number): void {
    this.#book.add(host, port);
  }

  setNick(nick: string): void {
    this.nick = nick.slice(0, MAX_NICK_LENGTH);
    this.#setup.nick = this.nick;
  }

  app<S extends AppSchema>(definition: AppDefinition<S>): AppChannel<S> {
    if (this.#apps.get(definition.name) !== definition) {
      throw new Error(`app "${definition.name}" was not passed to startPeer({ apps })`);
    }
    const name = definition.name;
    const schema = definition.schema;
    // Typed loosely here and cast once: TypeScript cannot resolve Infer<S> for a generic S.
    const runsApp = (info: PeerInfo) => info.apps.includes(name);
    const channel = {
      peers: () => this.peers().filter(runsApp),
      onPeer: (handler: (event: AppPeerEvent) => void) => {
        const offJoined = this.on("peer:connected", (peer) => {
          if (runsApp(peer)) handler({ type: "joined", peer });
        });
        const offLeft = this.on("peer:disconnected", ({ peer, reason }) => {
          if (runsApp(peer)) handler({ type: "left", peer, reason });
        });
        return () => {
          offJoined();
          offLeft();
        };
      },
      send: async (peerId: string, body: Record<string, unknown>) => {
        const record = this.#byId.get(peerId);
        if (!record) throw new ConnectError("closed", `not connected to peer ${peerId}`);
        if (!this.#sendApp(record, name, schema, body)) {
          throw new ConnectError("closed", `connection to peer ${peerId} is closing`);
        }
        await record.connection.drained(this.#options.maxQueuedBytes / 4);
      },
      broadcast: (body: Record<string, unknown>, except?: string) => {
        let count = 0;
        for (const record of this.#byId.values()) {
          if (record.remote!.id === except || !record.remote!.apps.includes(name)) continue;
          if (this.#sendApp(record, name, schema, body)) count++;
        }
        return count;
      },
      drained: async (bytes = this.#options.maxQueuedBytes / 4) => {
        const records = [...this.#byId.values()].filter((r) => r.remote!.apps.includes(name));
        await Promise.all(records.map((r) => r.connection.drained(bytes)));
      },
      onMessage: (
        handler: (body: Record<string, unknown>, from: PeerInfo, stored?: StoredData) => void,
      ) =>
        this.on("message", (event) => {
          if (event.app === name) handler(event.body, event.from, event.stored);
        }),
      sendFromFile: async (peerId: string, body: Record<string, unknown>, source: FileRange) => {
        const bulk = definition.bulk;
        if (!bulk) throw new Error(`app "${name}" declares no bulk fields`);
        const record = this.#byId.get(peerId);
        if (!record) throw new ConnectError("closed", `not connected to peer ${peerId}`);
        if (source.length > this.#options.maxFrameSize - 4096) {
          throw new RangeError(
            `${source.length} bytes do not fit in one frame; send them in parts`,
          );
        }
        assertValid(schema, { ...body, [bulk.data]: new Uint8Array(0) }, `${name} message`);
        const { [bulk.data]: _omit, ...rest } = body;
        const message = { t: "app" as const, app: name, body: rest };
        if (!record.connection.send(message, estimateSize(rest) + source.length, source)) {
          throw new ConnectError("closed", `connection to peer ${peerId} is closing`);
        }
        await record.connection.drained(this.#options.maxQueuedBytes / 4);
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
          this.#hashPool();
        }
        this.#setSink({
          type: "sink",
          app: name,
          key,
          path,
          ...(size === undefined ? {} : { size }),
          ...(verify ? { verify } : {}),
        });
      },
      stopReceiving: (key: string) => {
        this.#setSink({ type: "sink", app: name, key, path: null });
      },
      hashPieces: (
        path: string,
        pieceSize: number,
        options?: { pieces?: number[]; onProgress?: (done: number, total: number) => void },
      ) => this.#hashPool().hashPieces(path, pieceSize, options),
    };
    return channel as unknown as AppChannel<S>;
  }

  /** The hash workers, started on first use: a peer that verifies nothing never pays for them. */
  #hashPool(): HashPool {
    if (this.#closing) throw new ConnectError("closed", "the peer is closed");
    if (!this.#pool) {
      this.#pool = new HashPool();
      for (const record of this.#records) record.connection.useHashers(this.#pool.link());
    }
    return this.#pool;
  }

  #setSink(request: SinkRequest): void {
    const key = `${request.app}\0${request.key}`;
    if (request.path === null) this.#sinks.delete(key);
    else this.#sinks.set(key, request);
    this.#setup.sinks = [...this.#sinks.values()];
    for (const record of this.#records) record.connection.sink(request);
  }

  on<E extends keyof PeerEvents>(event: E, handler: (detail: PeerEvents[E]) => void): () => void {
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, set = new Set());
    set.add(handler as (detail: never) => void);
    return () => set.delete(handler as (detail: never) => void);
  }

  ping(peerId: string): Promise<number> {
    const record = this.#byId.get(peerId);
    if (!record) {
      return Promise.reject(new ConnectError("closed", `not connected to peer ${peerId}`));
    }
    return this.#sendPing(record).promise;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#timer);
    this.#listener.close();
    await this.#accepting;
    // Connections first, handshaking ones included: their dials then settle at once.
    await Promise.all(
      [...this.#records].map((r) => r.connection.close("peer shutting down", "shutdown")),
    );
    await Promise.allSettled([...this.#dialing.values()]);
    this.#pool?.close();
    for (const [id, departing] of this.#departing) {
      this.#departing.delete(id);
      this.#emit("peer:disconnected", { peer: departing.info, reason: "peer shutting down" });
    }
  }

  // Connections.

  async #acceptLoop(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#closing) {
          await this.#refuse(conn, "peer shutting down", "shutdown");
          continue;
        }
        if (this.#records.size >= this.#options.maxConnections) {
          await this.#refuse(conn, "too many connections", "full");
          continue;
        }
        const host = conn.remoteAddr.hostname;
        const penalty = this.#penalties.get(host);
        if (penalty && Date.now() < penalty.until) {
          const seconds = Math.ceil((penalty.until - Date.now()) / 1000);
          await this.#refuse(
            conn,
            `${host} broke a limit and is refused for another ${seconds} s`,
            "limit",
            false,
          );
          continue;
        }
        let fromHost = 0;
        for (const record of this.#records) {
          if (record.connection.remoteAddr.hostname === host) fromHost++;
        }
        if (fromHost >= this.#options.maxConnectionsPerAddress) {
          await this.#refuse(
            conn,
            `too many connections from ${host} (limit ${this.#options.maxConnectionsPerAddress})`,
            "full",
          );
          continue;
        }
        // Strangers get a worker only while few handshakes are pending, so silent sockets
        // cannot use up the connection slots and the memory of workers.
        let pending = 0;
        for (const record of this.#records) if (!record.remote) pending++;
        if (pending >= this.#options.maxPendingHandshakes) {
          await this.#refuse(conn, "too many connections in handshake", "full");
          continue;
        }
        this.#adopt(conn, "inbound");
      }
    } catch (error) {
      if (!this.#closing) this.#options.log(`listener failed: ${(error as Error).message}`);
    }
  }

  /**
   * Refuses before spawning a worker: tells the dialer why and (with `share`) where else to go.
   * These frames are sent in the clear, before any key exists; the dialer treats them as hints.
   */
  async #refuse(conn: Deno.TcpConn, reason: string, code: ByeCode, share = true): Promise<void> {
    try {
      const peers = encodeFrame({ t: "peers", peers: share ? this.#exchangeList() : [] });
      const bye = encodeFrame({ t: "bye", reason, code });
      const bytes = new Uint8Array(peers.length + bye.length);
      bytes.set(peers);
      bytes.set(bye, peers.length);
      await conn.write(bytes);
    } catch {
      // the dialer is gone already
    } finally {
      conn.close();
    }
  }

  #dial(host: string, port: number, expectPeer?: string): Promise<PeerInfo> {
    if (this.#closing) return Promise.reject(new ConnectError("closed", "peer is shutting down"));
    const key = addressKey(host, port);
    const pending = this.#dialing.get(key);
    const checked = (info: PeerInfo): PeerInfo => {
      if (expectPeer !== undefined && info.id !== expectPeer) {
        throw new ConnectError(
          "wrong-peer",
          `expected peer ${expectPeer} at ${key} but the peer there proved to be ${info.id}`,
        );
      }
      return info;
    };
    if (pending) return pending.then(checked);
    for (const record of this.#byId.values()) {
      const d = record.dialed;
      if (d && d.host === host && d.port === port) {
        return Promise.resolve(this.#info(record)).then(checked);
      }
    }
    if (this.#records.size >= this.#options.maxConnections) {
      return Promise.reject(
        new ConnectError(
          "full",
          `cannot dial ${key}: at the limit of ${this.#options.maxConnections} connections`,
        ),
      );
    }
    const attempt = (async () => {
      let conn: Deno.TcpConn;
      try {
        conn = await Deno.connect({ hostname: host, port });
      } catch (error) {
        this.#book.failed(host, port);
        throw new ConnectError("unreachable", `cannot reach ${key}: ${(error as Error).message}`);
      }
      if (this.#closing) {
        conn.close();
        throw new ConnectError("closed", "peer is shutting down");
      }
      const record = this.#adopt(conn, "outbound", { host, port }, expectPeer);
      try {
        const info = await record.ready.promise;
        this.#book.succeeded(host, port, info.id);
        return info;
      } catch (error) {
        if ((error as ConnectError).reason !== "self") this.#book.failed(host, port);
        throw error;
      }
    })();
    this.#dialing.set(key, attempt);
    attempt.catch(() => {}).finally(() => this.#dialing.delete(key));
    return attempt;
  }

  #adopt(
    conn: Deno.TcpConn,
    direction: "inbound" | "outbound",
    dialed?: { host: string; port: number },
    expectPeer?: string,
  ): Record_ {
    const now = performance.now();
    const record: Record_ = {
      connection: undefined as unknown as Connection,
      direction,
      dialed,
      startedAt: now,
      rttMs: null,
      lastPingAt: now,
      pingSeq: 0,
      ready: Promise.withResolvers<PeerInfo>(),
      lastAppAt: now,
      pings: new Map(),
    };
    record.ready.promise.catch(() => {});
    record.connection = new Connection(conn, this.#setup, {
      ready: (hello, nonces) => this.#onReady(record, hello, nonces),
      messages: (messages) => this.#onMessages(record, messages),
      closed: (reason, error) => this.#onClosed(record, reason, error),
      sendFailed: (message) => {
        this.#options.log(message);
        this.#emit("error", { address: this.#remoteKey(record), error: new Error(message) });
      },
    }, { dialer: direction === "outbound", expectPeer });
    if (this.#pool) record.connection.useHashers(this.#pool.link());
    this.#records.add(record);
    return record;
  }

  #onReady(record: Record_, hello: RemoteHello, nonces: { mine: string; theirs: string }): void {
    record.remote = hello;
    record.nonces = nonces;
    if (hello.id === this.id) {
      if (record.dialed) {
        this.#book.add(record.dialed.host, record.dialed.port, hello.id).self = true;
      }
      record.ready.reject(
        new ConnectError("self", `refusing to connect to ourselves at ${this.#remoteKey(record)}`),
      );
      record.connection.close("refusing to connect to itself", "self");
      return;
    }
    const existing = this.#byId.get(hello.id);
    if (existing) {
      // An existing connection that is closing, or silent for two heartbeat intervals, is a dead
      // socket (the peer restarted): the new one wins. Otherwise both sides apply one rule.
      const stale = existing.connection.closing ||
        performance.now() - existing.connection.lastReceivedAt >
          2 * this.#options.heartbeatIntervalMs;
      const keep = stale ? record : preferredConnection(existing, record, this.id);
      const drop = keep === existing ? record : existing;
      this.#byId.set(hello.id, keep);
      if (keep === record) record.ready.resolve(this.#info(record));
      else record.ready.resolve(this.#info(existing));
      drop.connection.close("duplicate connection", "duplicate");
      return;
    }
    this.#byId.set(hello.id, record);
    const address = this.#listenAddress(record);
    if (address) this.#book.add(address.host, address.port, hello.id);
    const info = this.#info(record);
    record.ready.resolve(info);
    this.#sendPeers(record);
    // The twin of a connection the other side dropped as a duplicate: the same peer, still here.
    if (!this.#departing.delete(hello.id)) this.#emit("peer:connected", info);
  }

  #onMessages(record: Record_, messages: Message[]): void {
    for (const message of messages) {
      if (message.t === "bye") {
        if (message.code === "user" && record.remote) {
          // The other side's user chose to part: its upkeep and ours both leave it alone.
          this.#book.setBlocked({ id: record.remote.id }, true);
        }
        if (message.code === "duplicate") record.replaced = true;
        if (!record.remote && (message.code === "full" || message.code === "shutdown")) {
          this.#learn(record.refusalPeers ?? []); // where else to go
        }
        record.connection.close(`peer said bye: ${message.reason}`);
        if (!record.remote) {
          record.ready.reject(
            new ConnectError("refused", `${this.#remoteKey(record)} refused: ${message.reason}`),
          );
        }
        return;
      }
      if (!record.remote) {
        // A peer refusing our dial sends `peers` before its `bye`; kept until that bye, and never
        // taken from a stranger who dialed us: it must not fill our address book unauthenticated.
        if (message.t === "peers" && record.direction === "outbound") {
          record.refusalPeers = message.peers;
        }
        continue;
      }
      switch (message.t) {
        case "pong": {
          const ping = record.pings.get(message.n);
          if (ping) {
            record.pings.delete(message.n);
            const rtt = performance.now() - ping.sentAt;
            record.rttMs = rtt;
            ping.waiter.resolve(rtt);
          }
          break;
        }
        case "peers":
          this.#learn(message.peers);
          break;
        case "app":
          if (this.#byId.get(record.remote.id) !== record) break; // a duplicate on its way out
          record.lastAppAt = performance.now();
          this.#emit("message", {
            from: this.#info(record),
            app: message.app,
            body: message.body,
            ...(message.stored ? { stored: message.stored } : {}),
          });
          break;
      }
    }
  }

  #onClosed(record: Record_, reason: string, error: ProtocolError | null): void {
    this.#records.delete(record);
    for (const { waiter } of record.pings.values()) {
      waiter.reject(new ConnectError("closed", reason));
    }
    const address = this.#remoteKey(record);
    if (!record.remote) {
      const why = error?.code === "wrong-peer" ? "wrong-peer" : error ? "refused" : "closed";
      record.ready.reject(new ConnectError(why, `${address}: ${reason}`));
    }
    if (error?.code === "rate-limited") this.#penalize(record);
    if (error) {
      this.#options.log(`connection ${address} closed: ${error.message}`);
      this.#emit("error", { address, error, peer: record.remote ? this.#info(record) : undefined });
    }
    if (record.remote && this.#byId.get(record.remote.id) === record) {
      this.#byId.delete(record.remote.id);
      const info = this.#info(record);
      if (record.replaced && !this.#closing) {
        const until = performance.now() + this.#options.handshakeTimeoutMs;
        this.#departing.set(info.id, { info, reason, until });
      } else {
        this.#emit("peer:disconnected", { peer: info, reason });
      }
    }
  }

  /**
   * Backs off a remote that broke a limit: its host is refused for a while, doubling with each
   * offence, and an address we dialed is marked failed, so upkeep waits before trying it again.
   */
  #penalize(record: Record_): void {
    const host = record.connection.remoteAddr.hostname;
    const now = Date.now();
    const last = this.#penalties.get(host);
    const strikes = last && now < last.until + 10 * 60_000 ? last.strikes + 1 : 1;
    const ms = Math.min(this.#options.penaltyMs * 2 ** (strikes - 1), 60 * 60_000);
    this.#penalties.set(host, { until: now + ms, strikes });
    if (this.#penalties.size > 4096) this.#penalties.delete(this.#penalties.keys().next().value!);
    if (record.dialed) this.#book.failed(record.dialed.host, record.dialed.port);
    this.#options.log(`${host} broke a limit: refusing it for ${Math.round(ms / 1000)} s`);
  }

  // Sending.

  #sendApp(
    record: Record_,
    app: string,
    schema: AppSchema,
    body: Record<string, unknown>,
  ): boolean {
    assertValid(schema, body, `${app} message`);
    return record.connection.send({ t: "app", app, body }, estimateSize(body));
  }

  #sendPing(record: Record_): PromiseWithResolvers<number> {
    const n = ++record.pingSeq;
    const waiter = Promise.withResolvers<number>();
    waiter.promise.catch(() => {});
    const sentAt = performance.now();
    record.pings.set(n, { waiter, sentAt });
    record.lastPingAt = sentAt;
    if (!record.connection.send({ t: "ping", n }, 0)) {
      record.pings.delete(n);
      waiter.reject(new ConnectError("closed", "connection is closing"));
    }
    return waiter;
  }

  #sendPeers(record: Record_): void {
    const peers = this.#exchangeList(record.remote?.id);
    if (peers.length > 0) record.connection.send({ t: "peers", peers }, 0);
  }

  /** Addresses worth telling a neighbour: where our connected peers listen, then recent ones. */
  #exchangeList(exclude?: string): { id?: string; host: string; port: number }[] {
    const out: { id?: string; host: string; port: number }[] = [];
    const seen = new Set<string>();
    for (const record of this.#byId.values()) {
      const address = this.#listenAddress(record);
      if (!address || record.remote!.id === exclude) continue;
      seen.add(addressKey(address.host, address.port));
      out.push({ id: record.remote!.id, ...address });
    }
    for (const entry of this.#book.list()) {
      if (out.length >= MAX_PEERS_PER_MESSAGE) break;
      const key = addressKey(entry.host, entry.port);
      if (entry.self || entry.failures > 0 || seen.has(key) || entry.id === exclude) continue;
      seen.add(key);
      out.push(
        entry.id
          ? { id: entry.id, host: entry.host, port: entry.port }
          : { host: entry.host, port: entry.port },
      );
    }
    return out.slice(0, MAX_PEERS_PER_MESSAGE);
  }

  #learn(peers: { id?: string; host: string; port: number }[]): void {
    for (const { id, host, port } of peers) {
      if (id === this.id || port === 0 || host === "") continue;
      this.#book.add(host, port, id);
    }
  }

  // Timers: heartbeats, handshake and idle timeouts, mesh upkeep.

  #tick(): void {
    const now = performance.now();
    const o = this.#options;
    for (const record of this.#records) {
      const connection = record.connection;
      if (connection.closing) continue;
      for (const [n, ping] of record.pings) {
        if (now - ping.sentAt < o.heartbeatTimeoutMs) break; // in send order: the rest are newer
        record.pings.delete(n);
        ping.waiter.reject(new ConnectError("timeout", `no answer to ping ${n}`));
      }
      if (!record.remote) {
        // Timed from our hello, not from the accept: starting a worker is our cost, and on a
        // loaded machine it can take seconds. A worker that never starts gets a larger bound.
        const since = connection.helloSentAt ?? record.startedAt;
        const limit = connection.helloSentAt === null
          ? Math.max(30_000, o.handshakeTimeoutMs)
          : o.handshakeTimeoutMs;
        if (now - since > limit) {
          connection.close(`handshake timed out after ${limit} ms`, "timeout");
          record.ready.reject(
            new ConnectError("timeout", `${this.#remoteKey(record)}: handshake timed out`),
          );
        }
        continue;
      }
      const silent = now - Math.max(connection.lastReceivedAt, record.startedAt);
      if (silent > o.heartbeatTimeoutMs) {
        const reason = `no response for ${Math.round(silent)} ms (heartbeat timeout)`;
        this.#options.log(
          `peer ${record.remote.id.slice(0, 8)} at ${this.#remoteKey(record)}: ${reason}`,
        );
        connection.close(reason, "timeout");
      } else if (o.idleTimeoutMs > 0 && now - record.lastAppAt > o.idleTimeoutMs) {
        connection.close(`idle for ${o.idleTimeoutMs} ms`, "timeout");
      } else if (now - record.lastPingAt >= o.heartbeatIntervalMs) {
        this.#sendPing(record);
      }
    }
    for (const [id, departing] of this.#departing) {
      if (now < departing.until) continue;
      this.#departing.delete(id);
      this.#emit("peer:disconnected", { peer: departing.info, reason: departing.reason });
    }
    this.#upkeep(now);
  }

  #upkeep(now: number): void {
    const o = this.#options;
    if (this.#closing || o.targetConnections === 0) return;
    if (now - this.#lastExchangeAt > 15_000 && this.#byId.size > 0) {
      this.#lastExchangeAt = now;
      for (const record of this.#byId.values()) this.#sendPeers(record);
    }
    let open = this.#records.size;
    if (open >= Math.min(o.targetConnections, o.maxConnections) || this.#dialing.size >= 2) return;
    for (const entry of this.#book.dialable()) {
      if (open >= o.targetConnections || this.#dialing.size >= 2) break;
      if (entry.id && this.#byId.has(entry.id)) continue;
      if (this.#connectedTo(entry.host, entry.port)) continue;
      open++;
      this.#dial(entry.host, entry.port).catch((error) => {
        // Report an address going bad once, not on every retry of the backoff.
        if (entry.failures === 1) {
          this.#options.log(`${(error as Error).message}; will retry with backoff`);
        }
      });
    }
  }

  #connectedTo(host: string, port: number): boolean {
    for (const record of this.#byId.values()) {
      const address = this.#listenAddress(record);
      if (address && address.host === host && address.port === port) return true;
    }
    return this.#dialing.has(addressKey(host, port));
  }

  // Helpers.

  #find(target: string): Record_ | undefined {
    for (const record of this.#byId.values()) {
      const address = this.#listenAddress(record);
      const id = record.remote!.id;
      if (id === target || (target.length >= 6 && id.startsWith(target))) return record;
      if (
        address &&
        (addressKey(address.host, address.port) === target || String(address.port) === target)
      ) {
        return record;
      }
      if (this.#remoteKey(record) === target) return record;
    }
    return undefined;
  }

  /** Where the remote listens: the address we dialed, or its announced port at the address it came from. */
  #listenAddress(record: ConnectionRecord): { host: string; port: number } | null {
    if (record.dialed) return record.dialed;
    const listen = record.remote?.listen;
    if (!listen || listen.port === 0) return null;
    return { host: record.connection.remoteAddr.hostname, port: listen.port };
  }

  #remoteKey(record: ConnectionRecord): string {
    const addr = record.connection.remoteAddr;
    return addressKey(addr.hostname, addr.port);
  }

  #info(record: ConnectionRecord): PeerInfo {
    const address = this.#listenAddress(record);
    return {
      id: record.remote?.id ?? "",
      nick: record.remote?.nick ?? "",
      address: address ? addressKey(address.host, address.port) : null,
      remoteAddress: this.#remoteKey(record),
      direction: record.direction,
      state: record.connection.closing ? "closing" : record.remote ? "open" : "handshaking",
      rttMs: record.rttMs,
      apps: record.remote?.apps ?? [],
      connectedAt: Date.now() - (performance.now() - record.startedAt),
    };
  }

  #emit<E extends keyof PeerEvents>(event: E, detail: PeerEvents[E]): void {
    for (const handler of this.#handlers.get(event) ?? []) {
      try {
        (handler as (detail: PeerEvents[E]) => void)(detail);
      } catch (error) {
        this.#options.log(`a "${event}" handler threw: ${(error as Error).stack ?? error}`);
      }
    }
  }
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
