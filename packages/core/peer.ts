/**
 * A peer: it listens and dials, keeps at most one connection per peer id, keeps its mesh at a
 * target size from an address book fed by peer exchange, checks liveness with heartbeats, and
 * gives apps a small interface: send to one, broadcast to all, hear messages and peer events.
 * This module starts a peer: the class that implements {@linkcode Peer} wires its parts together:
 * admission (who gets in), the dialer, the registry of connections, peer exchange, heartbeats,
 * upkeep and the app channels.
 *
 * @module
 */
import { AddressBook, type KnownAddress } from "./address_book.ts";
import { ADDRESS_BOOK_FILE, SavedAddressBook } from "./address_book_file.ts";
import { readSavedNick, saveNick } from "./nick_file.ts";
import { Admission } from "./admission.ts";
import { type AppChannel, appChannel, type AppDefinition } from "./app_channel.ts";
import { BulkFiles } from "./bulk_files.ts";
import { startsWithBytes } from "./bytes.ts";
import type { ConnectionSetup, Traffic } from "./connection.ts";
import { Dialer } from "./dialer.ts";
import type { Discovery, PeerDiscoveryStats } from "./discovery.ts";
import type { DiscoverySettings } from "./discovery_settings.ts";
import { Dispatcher } from "./dispatch.ts";
import type { Emitter } from "./emitter.ts";
import { ConnectError } from "./errors.ts";
import { Heartbeat } from "./heartbeat.ts";
import { generateIdentity, type Identity, loadOrCreateIdentity } from "./identity.ts";
import { type AppSchema, MAX_NICK_LENGTH } from "./messages.ts";
import { PeerExchange } from "./peer_exchange.ts";
import type { ConnectOptions, Peer } from "./peer_interface.ts";
import { peerEmitter, type PeerEvents } from "./peer_events.ts";
import {
  connectionSetup,
  type PeerOptions,
  type ResolvedPeerOptions,
  resolvePeerOptions,
} from "./peer_options.ts";
import { type PeerInfo, Registry } from "./registry.ts";
import { AUTH_DOMAIN } from "./secure.ts";
import { Upkeep } from "./upkeep.ts";

// The names a peer's user meets, from the module of the peer itself.
export {
  type AppChannel,
  type AppDefinition,
  type AppPeerEvent,
  defineApp,
} from "./app_channel.ts";
export type { KnownAddress } from "./address_book.ts";
export type { DiscoveryStats, PeerDiscoveryStats } from "./discovery.ts";
export type { DiscoverySettings } from "./discovery_settings.ts";
export type { PeerEvents } from "./peer_events.ts";
export type { PeerOptions } from "./peer_options.ts";
export type { PeerInfo } from "./registry.ts";
export type { Traffic } from "./connection.ts";
export type { ConnectOptions, Peer } from "./peer_interface.ts";

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
  const listener = Deno.listen({ hostname: options.host ?? "0.0.0.0", port: options.port ?? 0 });
  try {
    // Known once the port is: a data dir named after the port a peer on port 0 got.
    const dataDir = typeof options.dataDir === "function"
      ? options.dataDir(listener.addr.port)
      : options.dataDir;
    const identity = options.identity ??
      (dataDir ? await loadOrCreateIdentity(dataDir) : await generateIdentity());
    const nick = options.nick ?? (dataDir ? await readSavedNick(dataDir) : undefined);
    const book = new AddressBook();
    // A restarted peer redials the peers it knew: its book is kept in its data dir.
    const saved = dataDir
      ? await SavedAddressBook.open(
        `${dataDir}/${ADDRESS_BOOK_FILE}`,
        book,
        options.log ?? console.error,
      )
      : null;
    const peer = new MeshPeer(
      identity,
      listener,
      { ...options, nick },
      { book, saved, dataDir },
      false,
    );
    const { discovery } = options;
    if (discovery) peer.discover(discovery === true ? {} : discovery);
    return peer;
  } catch (error) {
    listener.close();
    throw error;
  }
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
  return new MeshPeer(
    identity,
    listener,
    options,
    { book: new AddressBook(), saved: null },
    true,
  );
}

class MeshPeer implements Peer {
  readonly id: string;
  readonly port: number;
  readonly publicKey: Uint8Array;
  readonly dataDir: string | undefined;
  nick: string;
  readonly #identity: Identity;
  readonly #listener: Deno.TcpListener;
  readonly #options: ResolvedPeerOptions;
  readonly #apps = new Map<string, AppDefinition>();
  readonly #setup: ConnectionSetup;
  readonly #traffic: Traffic = { bytesIn: 0, bytesOut: 0 };
  readonly #events: Emitter<PeerEvents>;
  readonly #registry: Registry;
  readonly #book: AddressBook;
  readonly #savedBook: SavedAddressBook | null;
  readonly #files: BulkFiles;
  readonly #heartbeat: Heartbeat;
  readonly #dialer: Dialer;
  readonly #admission: Admission;
  readonly #upkeep: Upkeep;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #accepting: Promise<void>;
  #discovery: Discovery | null = null;
  #closing: Promise<void> | null = null;

  constructor(
    identity: Identity,
    listener: Deno.TcpListener,
    options: PeerOptions,
    books: { book: AddressBook; saved: SavedAddressBook | null; dataDir?: string },
    plaintext: boolean,
  ) {
    this.#book = books.book;
    this.#savedBook = books.saved;
    this.dataDir = books.dataDir;
    this.id = identity.id;
    this.publicKey = identity.publicKey;
    this.#identity = identity;
    this.#listener = listener;
    this.port = listener.addr.port;
    this.nick = (options.nick ?? `peer-${this.id.slice(0, 6)}`).slice(0, MAX_NICK_LENGTH);
    for (const app of options.apps ?? []) this.#apps.set(app.name, app);
    const o = this.#options = resolvePeerOptions(options);
    this.#setup = connectionSetup(
      identity,
      this.nick,
      listener.addr,
      [...this.#apps.values()],
      o,
      plaintext,
    );
    this.#setup.traffic = this.#traffic;
    this.#events = peerEmitter(o.log);
    // The parts, each given only what it uses of the others.
    const registry = this.#registry = new Registry(this.id);
    const book = this.#book;
    const closing = () => this.#closing !== null;
    this.#files = new BulkFiles(() => [...registry.records].map((r) => r.connection), closing);
    const exchange = new PeerExchange(this.id, registry, book);
    const heartbeat = this.#heartbeat = new Heartbeat(registry, o);
    const dispatcher = new Dispatcher({
      myId: this.id,
      setup: this.#setup,
      options: o,
      registry,
      book,
      files: this.#files,
      exchange,
      heartbeat,
      events: this.#events,
      penalize: (record) => admission.penalize(record),
      slotFreed: () => admission.admitWaiting(),
      closing,
    });
    const admission = this.#admission = new Admission(listener, {
      registry,
      book,
      options: o,
      adopt: (conn, full) => dispatcher.adopt(conn, "inbound", undefined, undefined, full),
      closing,
    });
    const dialer = this.#dialer = new Dialer({
      registry,
      book,
      maxConnections: o.maxConnections,
      adopt: (conn, dialed, expectPeer) => dispatcher.adopt(conn, "outbound", dialed, expectPeer),
      closing,
    });
    this.#upkeep = new Upkeep({ options: o, registry, book, dialer, exchange, closing });
    const tick = Math.max(10, Math.min(1000, o.heartbeatIntervalMs / 2));
    this.#timer = setInterval(() => this.#tick(), tick);
    this.#accepting = admission.run();
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
    return this.#dialer.dial({ host, port }, expectPeer, true);
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
    const record = this.#registry.find(target);
    if (!record?.remote) return null;
    const info = this.#registry.info(record);
    this.#book.setBlocked({ id: record.remote.id }, true);
    if (record.dialed) this.#book.setBlocked(record.dialed, true);
    await record.connection.close("disconnected by user", "user");
    return info;
  }

  peers(): PeerInfo[] {
    return this.#registry.peers();
  }

  connections(): PeerInfo[] {
    return this.#registry.connections();
  }

  neighboursOf(peerId: string): string[] {
    return [...this.#registry.byId.get(peerId)?.theirNeighbours ?? []].filter((id) =>
      id !== this.id
    );
  }

  traffic(): Traffic {
    return { ...this.#traffic };
  }

  addresses(): KnownAddress[] {
    return this.#book.list();
  }

  addAddress(host: string, port: number): void {
    this.#book.add({ host, port });
  }

  /** Starts LAN discovery: the peers heard that run one of our apps are hints in the book. */
  discover(settings: DiscoverySettings): void {
    // Loaded only when asked for: it brings Node's dgram and crypto modules (several MiB of
    // memory) that a peer without discovery never holds. It sets up in the background anyway.
    const started = import("./discovery.ts").then(({ startDiscovery, interfacesFor }) =>
      startDiscovery({
        ...settings,
        interfaces: settings.interfaces ?? interfacesFor(this.#listener.addr.hostname),
        announce: { id: this.id, port: this.port, apps: [...this.#apps.keys()] },
        onHeard: (heard, waitMs) => this.#book.hint(heard, heard.id, Date.now(), waitMs),
        log: this.#options.log,
      })
    );
    let discovery: Discovery | null = null;
    started.then(
      (d) => discovery = d,
      (error) => this.#options.log(`LAN discovery is off: ${error}`),
    );
    const none = { heard: 0, added: 0, overRate: 0, invalid: 0, overQuota: 0, known: 0, sent: 0 };
    this.#discovery = {
      stats: () => discovery?.stats() ?? { ...none, interfaces: [] },
      close: () => started.then((d) => d.close(), () => {}),
    };
  }

  discoveryStats(): PeerDiscoveryStats | null {
    return this.#discovery && { ...this.#discovery.stats(), dialed: this.#upkeep.hintsDialed };
  }

  setNick(nick: string): void {
    this.nick = nick.slice(0, MAX_NICK_LENGTH);
    this.#setup.nick = this.nick;
    if (this.dataDir) {
      saveNick(this.dataDir, this.nick).catch((error) =>
        this.#options.log(`cannot keep the nickname in ${this.dataDir}: ${error.message}`)
      );
    }
  }

  app<S extends AppSchema>(definition: AppDefinition<S>): AppChannel<S> {
    if (this.#apps.get(definition.name) !== definition) {
      throw new Error(`app "${definition.name}" was not passed to startPeer({ apps })`);
    }
    return appChannel(definition, {
      registry: this.#registry,
      events: this.#events,
      files: this.#files,
      maxQueuedBytes: this.#options.maxQueuedBytes,
      maxFrameSize: this.#options.maxFrameSize,
    });
  }

  on<E extends keyof PeerEvents>(event: E, handler: (detail: PeerEvents[E]) => void): () => void {
    return this.#events.on(event, handler);
  }

  ping(peerId: string): Promise<number> {
    const record = this.#registry.byId.get(peerId);
    if (!record) {
      return Promise.reject(new ConnectError("closed", `not connected to peer ${peerId}`));
    }
    return this.#heartbeat.ping(record).promise;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#timer);
    await this.#discovery?.close();
    this.#listener.close();
    await this.#accepting;
    // Connections first, handshaking ones included: their dials then settle at once.
    await Promise.all(
      [...this.#registry.records].map((r) => r.connection.close("peer shutting down", "shutdown")),
    );
    await this.#dialer.settled();
    await this.#savedBook?.close();
    this.#files.close();
    for (const { peer } of this.#registry.expireDeparting()) {
      this.#events.emit("peer:disconnected", { peer, reason: "peer shutting down" });
    }
  }

  #tick(): void {
    const now = performance.now();
    this.#heartbeat.tick(now);
    this.#admission.admitWaiting(now);
    for (const gone of this.#registry.expireDeparting(now)) {
      this.#events.emit("peer:disconnected", gone);
    }
    this.#book.forgetHints();
    this.#upkeep.run(now);
    this.#savedBook?.tick(now);
  }
}
