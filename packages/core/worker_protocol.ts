/**
 * What the main thread and a connection worker say to each other. Bytes never travel here:
 * they go through the two {@linkcode ByteRing}s; these messages carry decoded messages and
 * lifecycle events, one post per batch.
 *
 * @module
 */
import type { Auth, BulkFields, ByeCode, FileRange, Message } from "./messages.ts";
import type { Schema } from "./schema.ts";

/** Slots of the shared control array of one connection. */
export const Slot = {
  /** Message batches the worker has posted to the main thread. */
  batchesPosted: 0,
  /** Message batches the main thread has finished dispatching. */
  batchesDone: 1,
  /** Send credit (estimated bytes) of messages the worker has put in the outbound ring, mod 2^32. */
  sentBytes: 2,
} as const;

/**
 * Bytes of each of a connection's two rings. 1 MiB holds a whole 1 MiB piece, decoded in place:
 * file to /dev/null went from ~0.9 to ~1.25 GB/s against 256 KiB. Shared memory is only resident
 * once touched, so an idle connection pays a few pages, a busy one at most 2 MiB.
 */
export const RING_BYTES = 1024 * 1024;

/** Control array length, in Int32 slots. */
export const CONTROL_SLOTS = 4;

/** Batches the worker may have posted and not yet seen dispatched before it stops reading. */
export const MAX_BATCHES_IN_FLIGHT = 8;

/** What a peer tells each of its connection workers about itself and its apps. */
export interface WorkerSetup {
  nick: string;
  listen?: { host: string; port: number };
  apps: Record<string, Schema>;
  bulk: Record<string, BulkFields>;
  /** Sinks in force when the connection opens; later changes come as `sink` requests. */
  sinks: SinkRequest[];
  maxFrameSize: number;
  /** Inbound rate limits of each connection; 0 turns one off. */
  limits: { framesPerSecond: number; bytesPerSecond: number };
  /**
   * Internal, for the benchmark's baseline only: frames after the handshake are sealed by the
   * null cipher (not encrypted). Reachable only through `startUnencryptedPeerForBenchmark`
   * (peer.ts), never from `mod.ts` or a CLI.
   */
  plaintext?: boolean;
}

/** The first message to a worker: its rings and everything it needs for the handshake. */
export interface InitRequest extends WorkerSetup {
  type: "init";
  inbound: SharedArrayBuffer;
  outbound: SharedArrayBuffer;
  control: SharedArrayBuffer;
  publicKey: Uint8Array;
  privateKey: CryptoKey;
  /** This side dialed: it plays the dialer's part in the key agreement. */
  dialer: boolean;
  /** The peer id the dialer expects; any other is refused (`wrong-peer`). */
  expectPeer?: string;
  /** We have no room: the handshake says so, then we send `peers` and `bye` (code `full`). */
  full?: boolean;
}

/** Bulk bytes of `app` messages whose key field is `key` go into `path` (null: stop). */
export interface SinkRequest {
  type: "sink";
  app: string;
  key: string;
  path: string | null;
  /** Bytes past this offset are refused (a protocol error of the peer that sent them). */
  size?: number;
  /** Accept only whole pieces that match these hashes (needs `size` and hash workers). */
  verify?: PieceHashes;
}

/** The pieces a file is cut into and the BLAKE3-256 hash of each, 32 bytes apiece. */
export interface PieceHashes {
  pieceSize: number;
  hashes: Uint8Array;
}

/** Main to worker. */
export type ToWorker =
  | InitRequest
  | { type: "send"; messages: Message[]; credits: number[]; fills: Record<number, FileRange> }
  | SinkRequest
  | { type: "hashers"; ports: MessagePort[] }
  /** Send what is queued and a `bye`, then nothing more; go on reading until `close`. */
  | { type: "end-sending"; reason: string; code: ByeCode }
  | { type: "close"; reason: string; code?: ByeCode };

/**
 * The remote peer as its handshake proved it: its `auth` (without the signature, checked) and
 * the id derived from its key.
 */
export type ProvenAuth = Omit<Auth, "t" | "sig"> & { id: string };

/** The old name of {@linkcode ProvenAuth}: it was never the remote's hello. */
export type RemoteHello = ProvenAuth;

/**
 * The two ephemeral X25519 public keys of a connection's hellos, in hex. Both sides see the same
 * pair (swapped), so a connection has the same name on both.
 */
export interface EphemeralKeys {
  /** Ours. */
  mine: string;
  /** The remote's. */
  theirs: string;
}

/** Worker to main. */
export type FromWorker =
  | { type: "ready"; remote: ProvenAuth; ephemeralKeys: EphemeralKeys }
  | { type: "messages"; messages: Message[] }
  | { type: "error"; code: string; message: string }
  | { type: "send-failed"; message: string }
  | { type: "started" }
  | { type: "end" };
