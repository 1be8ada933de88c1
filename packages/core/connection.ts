/**
 * The main thread's half of a connection: it owns the socket and moves bytes between it and the
 * connection's worker through two shared rings, posts outgoing messages to the worker in
 * batches, and hands decoded messages to the peer. Nothing here looks inside a frame.
 *
 * @module
 */
import { ProtocolError, type ProtocolErrorCode } from "./errors.ts";
import type { HashLink } from "./hash_pool.ts";
import type { Identity } from "./identity.ts";
import type { ByeCode, FileRange, Message } from "./messages.ts";
import { ByteRing } from "./ring.ts";
import {
  CONTROL_SLOTS,
  type EphemeralKeys,
  type FromWorker,
  type ProvenAuth,
  RING_BYTES,
  type SinkRequest,
  Slot,
  type ToWorker,
  type WorkerSetup,
} from "./worker_protocol.ts";

const CLOSE_GRACE_MS = 1000;

/** Bytes a peer's connections moved through their sockets, all of them together, since it started. */
export interface Traffic {
  /** Read from sockets: frames as they travel, encrypted, with their headers. */
  bytesIn: number;
  /** Written to sockets. */
  bytesOut: number;
}

/** What a connection needs from its peer. */
export interface ConnectionSetup extends WorkerSetup {
  identity: Identity;
  /** Where this connection adds what it reads and writes (the peer's totals), if anywhere. */
  traffic?: Traffic;
  /** Estimated bytes queued for this peer past which the connection is dropped as too slow. */
  maxQueuedBytes: number;
  /** Capacity of each of the two rings (a power of two; see `ringBytesFor`). */
  ringBytes: number;
}

/**
 * Ring capacity for a peer's connections: 1 MiB when an app moves bulk bytes (a whole piece then
 * lies in the ring and is decoded in place), else 128 KiB. A ring's pages become resident as it
 * wraps, so a busy connection holds both rings whole; small messages never need more, and a frame
 * larger than the ring (up to `maxFrameSize`) is still taken, assembled by copy.
 */
export function ringBytesFor(bulk: boolean): number {
  return bulk ? RING_BYTES : SMALL_RING_BYTES;
}

const SMALL_RING_BYTES = 128 * 1024;

/** Callbacks through which a connection reports to its peer. */
export interface ConnectionEvents {
  /** The remote proved who it is; `ephemeralKeys` name this connection on both sides. */
  ready(remote: ProvenAuth, ephemeralKeys: EphemeralKeys): void;
  messages(messages: Message[]): void;
  closed(reason: string, error: ProtocolError | null): void;
  /** A message to be sent from a file was skipped: the file could not be read. */
  sendFailed(message: string): void;
}

/** One TCP connection and the worker that services it. */
export class Connection {
  readonly remoteAddr: Deno.NetAddr;
  readonly #conn: Deno.TcpConn;
  readonly #worker: Worker;
  readonly #inbound: ByteRing;
  readonly #outbound: ByteRing;
  /** Read the socket in parts of the ring, so the worker decodes one part while the next arrives. */
  readonly #socketReadMax: number;
  readonly #control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  readonly #events: ConnectionEvents;
  readonly #maxQueuedBytes: number;
  readonly #traffic: Traffic | undefined;
  #sendQueue: Message[] = [];
  #sendCredits: number[] = [];
  #sendFills: Record<number, FileRange> = {};
  #posted = 0;
  /** Messages stay queued here, not posted, until {@linkcode resumeSending}. */
  #paused = false;
  /** Set once our `bye` is on its way while we go on reading: settles once it is written. */
  #sendingEnded: Promise<void> | null = null;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #closing = false;
  #closeReason = "";
  #hashLink: HashLink | null = null;
  #error: ProtocolError | null = null;
  #finished: Promise<void> | null = null;
  readonly #reading: Promise<void>;
  readonly #writing: Promise<void>;
  /** `performance.now()` of the last frame batch received. */
  lastReceivedAt: number = performance.now();
  /** `performance.now()` when the worker had sent our hello: the handshake's own clock starts. */
  helloSentAt: number | null = null;

  constructor(
    conn: Deno.TcpConn,
    setup: ConnectionSetup,
    events: ConnectionEvents,
    role: { dialer: boolean; expectPeer?: string; full?: boolean },
  ) {
    this.#conn = conn;
    this.remoteAddr = conn.remoteAddr;
    this.#events = events;
    this.#maxQueuedBytes = setup.maxQueuedBytes;
    this.#traffic = setup.traffic;
    this.#inbound = ByteRing.create(setup.ringBytes);
    this.#outbound = ByteRing.create(setup.ringBytes);
    this.#socketReadMax = setup.ringBytes / 4;
    conn.setNoDelay(true);
    this.#worker = new Worker(new URL("./connection_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => this.#onWorkerMessage(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.close(`connection worker failed: ${event.message}`);
    };
    this.#post({
      type: "init",
      inbound: this.#inbound.buffer,
      outbound: this.#outbound.buffer,
      control: this.#control.buffer as SharedArrayBuffer,
      publicKey: setup.identity.publicKey,
      privateKey: setup.identity.privateKey,
      nick: setup.nick,
      listen: setup.listen,
      apps: setup.apps,
      bulk: setup.bulk,
      sinks: setup.sinks,
      maxFrameSize: setup.maxFrameSize,
      limits: setup.limits,
      ...(setup.plaintext ? { plaintext: true } : {}),
      dialer: role.dialer,
      ...(role.expectPeer !== undefined ? { expectPeer: role.expectPeer } : {}),
      ...(role.full ? { full: true } : {}),
    });
    this.#reading = this.#readLoop();
    this.#writing = this.#writeLoop();
  }

  /** True once closing has begun, or our `bye` was sent (see {@linkcode endSending}). */
  get closing(): boolean {
    return this.#closing || this.#sendingEnded !== null;
  }

  /** Estimated bytes handed to this connection and not yet in its outbound ring. */
  get queuedBytes(): number {
    return (this.#posted - Atomics.load(this.#control, Slot.sentBytes)) >>> 0;
  }

  /**
   * Queues a message; all messages queued in one turn of the event loop go to the worker in one
   * post. Returns false if the connection is closing, or has just been closed for holding more
   * than `maxQueuedBytes` unsent.
   */
  send(message: Message, credit: number, fill?: FileRange): boolean {
    if (this.closing) return false;
    if (this.queuedBytes + credit > this.#maxQueuedBytes) {
      const mib = (this.queuedBytes / 2 ** 20).toFixed(1);
      this.close(`peer is not reading: ${mib} MiB queued for it`, "slow");
      return false;
    }
    if (this.#sendQueue.length === 0) queueMicrotask(() => this.#flush());
    if (fill) this.#sendFills[this.#sendQueue.length] = fill;
    this.#sendQueue.push(message);
    this.#sendCredits.push(credit);
    this.#posted = (this.#posted + credit) | 0;
    return true;
  }

  /** Gives the worker ports to the hash workers, through which it verifies pieces. */
  useHashers(link: HashLink): void {
    if (this.#closing || this.#hashLink) return link.release();
    this.#hashLink = link;
    this.#post({ type: "hashers", ports: link.ports }, link.ports);
  }

  /** Starts or stops (path null) writing an app's bulk bytes for `key` into a file. */
  sink(request: SinkRequest): void {
    if (!this.#closing) this.#post(request);
  }

  /** Resolves once no more than `bytes` are queued, or the connection closes. */
  async drained(bytes: number): Promise<void> {
    while (!this.#closing && this.queuedBytes > bytes) {
      const sent = Atomics.load(this.#control, Slot.sentBytes);
      const wait = Atomics.waitAsync(this.#control, Slot.sentBytes, sent, 200);
      if (wait.async) await wait.value;
    }
  }

  /**
   * Holds what is sent from now on in this thread, in order, until {@linkcode resumeSending}
   * (or a close, which sends it first). Pongs are the worker's and still go out.
   */
  pauseSending(): void {
    this.#paused = true;
  }

  /** Posts what {@linkcode pauseSending} held, and sends as before. */
  resumeSending(): void {
    this.#paused = false;
    this.#flush();
  }

  /**
   * Half of a close: sends what is queued and a `bye` with `reason` and `code`, then nothing
   * more, while what arrives is still delivered until {@linkcode close}. If that does not come
   * within `withinMs`, the connection closes by itself. Resolves once the `bye` is written to
   * the socket, or the connection is closed.
   */
  endSending(reason: string, code: ByeCode, withinMs: number): Promise<void> {
    if (this.#finished) return this.#finished;
    if (this.#sendingEnded) return this.#sendingEnded;
    this.#paused = false;
    this.#flush();
    this.#post({ type: "end-sending", reason, code });
    this.#sendingEnded = this.#writing;
    this.closeAfter(withinMs, `${reason}: not over after ${withinMs} ms`);
    return this.#sendingEnded;
  }

  /** Closes the connection in `ms` unless it is closed before; replaces an earlier deadline. */
  closeAfter(ms: number, reason: string, code?: ByeCode): void {
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(() => this.close(reason, code), ms);
  }

  /**
   * Closes the connection: the worker sends what is queued and a `bye` with `reason` (and
   * its `code`), and the socket closes. Resolves when the
   * socket, the worker and both pumps are gone.
   */
  close(reason: string, code?: ByeCode): Promise<void> {
    if (this.#finished) return this.#finished;
    this.#closing = true;
    this.#closeReason = reason;
    this.#paused = false;
    this.#flush();
    this.#post({ type: "close", reason, code });
    this.#finished = this.#finish();
    return this.#finished;
  }

  async #finish(): Promise<void> {
    clearTimeout(this.#deadline);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_GRACE_MS));
    await Promise.race([this.#writing, grace]);
    clearTimeout(timer);
    this.#outbound.closeConsumer();
    this.#inbound.closeProducer();
    this.#inbound.closeConsumer();
    try {
      this.#conn.close();
    } catch {
      // already closed by a failed read or write
    }
    this.#worker.terminate();
    this.#hashLink?.release();
    await Promise.all([this.#reading, this.#writing]);
    this.#events.closed(this.#closeReason, this.#error);
  }

  #flush(): void {
    if (this.#paused || this.#sendQueue.length === 0) return;
    this.#post({
      type: "send",
      messages: this.#sendQueue,
      credits: this.#sendCredits,
      fills: this.#sendFills,
    });
    this.#sendQueue = [];
    this.#sendCredits = [];
    this.#sendFills = {};
  }

  #onWorkerMessage(message: FromWorker): void {
    switch (message.type) {
      case "ready":
        this.lastReceivedAt = performance.now();
        if (!this.#closing) this.#events.ready(message.remote, message.ephemeralKeys);
        break;
      case "messages":
        this.lastReceivedAt = performance.now();
        try {
          if (!this.#closing) this.#events.messages(message.messages);
        } finally {
          Atomics.add(this.#control, Slot.batchesDone, 1);
          Atomics.notify(this.#control, Slot.batchesDone);
        }
        break;
      case "error":
        this.#error = new ProtocolError(message.code as ProtocolErrorCode, message.message);
        this.close(`protocol error: ${message.message}`);
        break;
      case "end":
        this.close("peer closed the connection");
        break;
      case "started":
        this.helloSentAt = performance.now();
        break;
      case "send-failed":
        this.#events.sendFailed(message.message);
        break;
    }
  }

  async #readLoop(): Promise<void> {
    try {
      while (!this.#closing) {
        // The worker stops consuming when it fails: stop reading rather than wait on a full ring.
        if (this.#inbound.consumerDone) break;
        const space = this.#inbound.writable();
        if (space.length === 0) {
          await this.#inbound.waitWritable();
          continue;
        }
        const count = await this.#conn.read(space.subarray(0, this.#socketReadMax));
        if (count === null) break;
        this.#inbound.commit(count);
        if (this.#traffic) this.#traffic.bytesIn += count;
      }
    } catch (error) {
      if (!this.#closing) this.close(`connection lost: ${(error as Error).message}`);
    }
    this.#inbound.closeProducer();
  }

  async #writeLoop(): Promise<void> {
    try {
      while (true) {
        await this.#outbound.waitReadable();
        const bytes = this.#outbound.readable();
        if (bytes.length === 0) {
          if (this.#outbound.producerDone || this.#outbound.consumerDone) return;
          continue;
        }
        const count = await this.#conn.write(bytes);
        this.#outbound.release(count);
        if (this.#traffic) this.#traffic.bytesOut += count;
      }
    } catch (error) {
      this.#outbound.closeConsumer();
      if (!this.#closing) this.close(`connection lost: ${(error as Error).message}`);
    }
  }

  #post(message: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }
}
