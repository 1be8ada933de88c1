/**
 * What a running peer offers its user: {@linkcode Peer}, the interface `startPeer` returns.
 *
 * @module
 */
import type { KnownAddress } from "./address_book.ts";
import type { AppChannel, AppDefinition } from "./app_channel.ts";
import type { Traffic } from "./connection.ts";
import type { PeerDiscoveryStats } from "./discovery.ts";
import type { AppSchema } from "./messages.ts";
import type { PeerEvents } from "./peer_events.ts";
import type { PeerInfo } from "./registry.ts";

/** A running peer. */
export interface Peer {
  /** This peer's id. */
  readonly id: string;
  /** The port it listens on. */
  readonly port: number;
  /** Its nickname. */
  readonly nick: string;
  /** The directory its identity, nickname and address book are kept in; none when in memory. */
  readonly dataDir: string | undefined;
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
  /**
   * The ids a connected peer named as its own neighbours in the last peer exchange it sent
   * (never this peer itself); empty for a peer not connected. What it says is its own word.
   */
  neighboursOf(peerId: string): string[];
  /** Bytes read from and written to every connection's socket since this peer started. */
  traffic(): Traffic;
  /** The address book. */
  addresses(): KnownAddress[];
  /** Adds an address to the book: upkeep dials it (with backoff) while below its target. */
  addAddress(host: string, port: number): void;
  /** What LAN discovery did (`dialed`: dials of addresses heard there), or null when it is off. */
  discoveryStats(): PeerDiscoveryStats | null;
  /**
   * Changes the nickname announced in future handshakes; with a data dir, it is kept there and
   * used again at the next start (unless `nick` is given then).
   */
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
