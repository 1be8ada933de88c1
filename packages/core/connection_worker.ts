/**
 * The worker that services one connection. It owns everything per-byte: framing, the encrypted
 * and signed handshake, sealing and opening every frame, MessagePack, schema checks, rate limits
 * and encoding. The main thread only moves (encrypted) bytes between the socket and the two
 * rings, and receives decoded, validated messages in batches.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { toHex } from "./bytes.ts";
import { decodeValue, decodeValues, encodeShared } from "./codec.ts";
import { ProtocolError } from "./errors.ts";
import { FRAME_HEADER_BYTES, FrameDecoder } from "./frame.ts";
import { peerIdFromKey, verifySignature } from "./identity.ts";
import {
  type AppMessage,
  type Auth,
  type ByeCode,
  type FileRange,
  type Hello,
  type Message,
  parseMessage,
  PROTOCOL_VERSION,
  type StoredData,
} from "./messages.ts";
import { HASH_BYTES, type VerifyReply, type VerifyTask } from "./hash_protocol.ts";
import { ByteRing, copyAligned } from "./ring.ts";
import {
  authPayload,
  deriveSession,
  type Ephemeral,
  type FrameCipher,
  newEphemeral,
  ROLE_ACCEPTOR,
  ROLE_DIALER,
  TAG_BYTES,
  transcriptOf,
} from "./secure.ts";
import {
  type FromWorker,
  type InitRequest,
  MAX_BATCHES_IN_FLIGHT,
  type PieceHashes,
  RING_BYTES,
  type SinkRequest,
  Slot,
  type ToWorker,
} from "./worker_protocol.ts";
import type { Schema } from "./schema.ts";

/**
 * Largest frame before encryption starts: a hello, or a refusal's peers list and bye. A stranger
 * who has proven nothing gets no 2 MiB buffers.
 */
const MAX_PLAIN_FRAME = 64 * 1024;
/** Frames sealed at once: Web Crypto seals on other threads, so sealing overlaps writing. */
const MAX_SEALING = 8;
/** Bytes of plaintext being sealed at once. */
const SEALING_BYTES = 4 * 1024 * 1024;
/** Most bytes of small messages sealed together in one frame, and most messages. */
const BATCH_BYTES = 64 * 1024;
const MAX_BATCH = 256;

/** A frame waiting for ring space: a message to encode, or bytes encoded already. */
interface Pending {
  message?: Message;
  bytes?: Uint8Array;
  /** The message's bulk field is to be filled from this file range. */
  fill?: FileRange;
  credit: number;
}

interface Sink {
  key: string;
  path: string;
  size?: number;
  verify?: PieceHashes;
  file?: Deno.FsFile;
}

let inbound: ByteRing;
let outbound: ByteRing;
let control: Int32Array;
let init: InitRequest;
let decoder: FrameDecoder;
let apps: Record<string, Schema>;
let phase: "hello" | "auth" | "open" | "closing" = "hello";
let ephemeral: Ephemeral;
let myHelloBody: Uint8Array;
let theirEphemeral: Uint8Array;
let transcript: Uint8Array;
/** Set once both hellos are known; from then on every frame each way is sealed. */
let sendCipher: FrameCipher | null = null;
/** Our auth, held back until the remote proved the id we expect (see onHello). */
let deferredAuth: Auth | null = null;
let receiveCipher: FrameCipher | null = null;
/** Token buckets of the inbound rate limits, refilled by elapsed time. */
let frameTokens = 0;
let byteTokens = 0;
let bucketsAt = 0;
let batch: Message[] = [];
const queue: Pending[] = [];
/** Pings and pongs: sent before anything still in `queue`. */
const urgent: Pending[] = [];
let pumping = false;
let closeAfterDrain = false;
const sinks = new Map<string, Sink>();
let queuedPong: Pending | null = null;
let batchWaits: Promise<void>[] = [];
let delivery: Promise<void> = Promise.resolve();
let queuedBatches = 0;
let storing = 0;
let onProgress: (() => void) | null = null;
/** Buffers that carry pieces to the hash workers and come back from them. */
const pieceBuffers: ArrayBuffer[] = [];
/** A port to each hash worker, with the pieces it has not answered yet. */
let hashers: { port: MessagePort; waiting: number }[] = [];
const verifying = new Map<number, (reply: VerifyReply) => void>();
let nextVerifyId = 0;
const MAX_QUEUED_BATCHES = 8;
const MAX_STORING = 4;

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const request = event.data;
  switch (request.type) {
    case "init":
      start(request).catch(fail);
      break;
    case "send":
      if (phase === "closing") return;
      for (let i = 0; i < request.messages.length; i++) {
        const message = request.messages[i];
        const pending = { message, credit: request.credits[i], fill: request.fills[i] };
        // Heartbeats go ahead of queued data: a peer sending a long backlog must still be
        // able to tell that its neighbours are alive (and they that it is).
        (message.t === "ping" ? urgent : queue).push(pending);
      }
      outbound.wake();
      pump();
      break;
    case "sink":
      setSink(request);
      break;
    case "hashers":
      hashers = request.ports.map((port) => {
        const hasher = { port, waiting: 0 };
        port.onmessage = (event: MessageEvent<VerifyReply>) => {
          hasher.waiting--;
          const done = verifying.get(event.data.id);
          verifying.delete(event.data.id);
          done?.(event.data);
        };
        return hasher;
      });
      break;
    case "close":
      closeGracefully(request.reason, request.code);
      break;
  }
};

async function start(request: InitRequest): Promise<void> {
  init = request;
  inbound = ByteRing.from(request.inbound);
  outbound = ByteRing.from(request.outbound);
  control = new Int32Array(request.control);
  apps = request.apps;
  for (const sink of request.sinks) setSink(sink);
  decoder = new FrameDecoder({
    maxFrameSize: request.plaintext ? request.maxFrameSize : request.maxFrameSize + TAG_BYTES,
  });
  frameTokens = request.limits.framesPerSecond * 2;
  byteTokens = request.limits.bytesPerSecond;
  bucketsAt = performance.now();
  ephemeral = await newEphemeral();
  const hello: Hello = { t: "hello", v: PROTOCOL_VERSION, e: ephemeral.publicKey };
  myHelloBody = encodeShared(hello).slice();
  enqueueBody(myHelloBody, 0);
  outbound.wake();
  pump();
  post({ type: "started" }); // the handshake clock starts now, not when the worker was spawned
  await readLoop();
}

async function readLoop(): Promise<void> {
  while (true) {
    await inbound.waitReadable();
    if (inbound.consumerDone) return;
    const view = inbound.readable();
    if (view.length === 0) {
      if (!inbound.producerDone) continue;
      decoder.end();
      post({ type: "end" });
      return;
    }
    if (decoder.pendingBytes === 0 && view.length >= FRAME_HEADER_BYTES) {
      // A frame that will lie whole in the ring is decoded in place once it has all arrived,
      // rather than copied piece by piece into a buffer of its own.
      const frameBytes = FRAME_HEADER_BYTES + readLength(view);
      if (
        view.length < frameBytes && frameBytes <= inbound.contiguousFromRead &&
        frameBytes - FRAME_HEADER_BYTES <= init.maxFrameSize + TAG_BYTES && !inbound.producerDone
      ) {
        await inbound.waitReadable(frameBytes);
        continue;
      }
    }
    const opening: Promise<Uint8Array | null>[] = [];
    for (const body of decoder.push(view)) {
      await spend(body.length);
      if (receiveCipher && !init.plaintext) {
        // Opened concurrently (Web Crypto works on other threads), handled in order below.
        const opened = openFrame(receiveCipher, body);
        opened.catch(() => {}); // awaited below, in order; an earlier failure must not leave it loose
        opening.push(opened);
        continue;
      }
      if (!receiveCipher && body.length > MAX_PLAIN_FRAME) {
        throw new ProtocolError(
          "frame-too-large",
          `frame of ${body.length} bytes before encryption started exceeds ${MAX_PLAIN_FRAME}`,
        );
      }
      await handleFrame(body);
      if (phase === "closing") return;
    }
    for (const frame of opening) {
      const plain = await frame;
      if (plain) await handleFrame(plain, true);
      if (phase === "closing") return;
    }
    decoder.throwIfFailed();
    inbound.release(view.length);
    flushBatch();
    await room();
  }
}

/**
 * Opens one sealed frame body, copied out of the ring first: Web Crypto refuses shared memory.
 * A frame that fails to open before the handshake completes may be a plaintext `bye` sent by a
 * remote that gave up before it had our hello; it is read as one, and nothing else is.
 */
async function openFrame(cipher: FrameCipher, body: Uint8Array): Promise<Uint8Array | null> {
  // Once open, the copy goes into one reused buffer: Web Crypto takes its own copy when called, so
  // the buffer is free again as soon as `open` returns. (A fresh buffer per frame left the garbage
  // of every piece to the collector: a downloader from four seeders peaked at ~400 MiB.)
  const copy = phase === "open" ? copyToScratch(body) : copyAligned(body);
  const lengthBytes = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(lengthBytes.buffer).setUint32(0, body.length);
  try {
    return await cipher.open(copy, lengthBytes);
  } catch (error) {
    if (phase !== "open" && isPlainBye(copy)) return copy;
    throw error;
  }
}

let openScratch = new Uint8Array(0);

/** `bytes` copied into the reused open buffer, at their alignment (aligned copies are fast). */
function copyToScratch(bytes: Uint8Array): Uint8Array {
  const pad = bytes.byteOffset % 8;
  if (openScratch.length < pad + bytes.length) openScratch = new Uint8Array(pad + bytes.length + 8);
  const copy = openScratch.subarray(pad, pad + bytes.length);
  copy.set(bytes);
  return copy;
}

function isPlainBye(body: Uint8Array): boolean {
  try {
    return (decodeValue(body) as { t?: unknown })?.t === "bye";
  } catch {
    return false;
  }
}

/**
 * Charges one inbound frame to the connection's rate limits. Too many frames is an offence (the
 * peer is dropped): per frame is where a flood costs CPU. Too many bytes only slows the peer
 * down by reading less, which TCP passes back: a fast bulk transfer is not an offence.
 */
function chargeMessages(count: number): void {
  const limit = init.limits.framesPerSecond;
  if (limit === 0) return;
  frameTokens -= count;
  if (frameTokens < 0) {
    throw new ProtocolError(
      "rate-limited",
      `peer sent messages faster than the limit of ${limit} a second`,
    );
  }
}

async function spend(bytes: number): Promise<void> {
  const { framesPerSecond, bytesPerSecond } = init.limits;
  const now = performance.now();
  const elapsed = (now - bucketsAt) / 1000;
  bucketsAt = now;
  if (framesPerSecond > 0) {
    frameTokens = Math.min(framesPerSecond * 2, frameTokens + elapsed * framesPerSecond) - 1;
    if (frameTokens < 0) {
      throw new ProtocolError(
        "rate-limited",
        `peer sent frames faster than the limit of ${framesPerSecond} a second`,
      );
    }
  }
  if (bytesPerSecond > 0) {
    byteTokens = Math.min(bytesPerSecond, byteTokens + elapsed * bytesPerSecond) - bytes;
    if (byteTokens < 0) {
      await new Promise((resolve) => setTimeout(resolve, (-byteTokens / bytesPerSecond) * 1000));
    }
  }
}

/**
 * Handles one frame's body: one message in the clear, or, once opened, one or more messages one
 * after another (a sender seals small messages ready together in one frame).
 */
async function handleFrame(body: Uint8Array, sealed = false): Promise<void> {
  let values: unknown[];
  try {
    values = sealed ? decodeValues(body) : [decodeValue(body)];
  } catch (error) {
    throw new ProtocolError(
      "bad-msgpack",
      `frame is not valid MessagePack: ${(error as Error).message}`,
    );
  }
  if (values.length === 0) throw new ProtocolError("bad-msgpack", "sealed frame holds no message");
  // The frame was charged to the rate limit on arrival; every further message in it counts too.
  if (values.length > 1) chargeMessages(values.length - 1);
  for (const value of values) {
    await handleValue(value, body);
    if (phase === "closing") return;
  }
}

async function handleValue(value: unknown, body: Uint8Array): Promise<void> {
  const sink = phase === "open" ? sinkFor(value) : undefined;
  // Bulk bytes bound for a file are lifted out before validation, which copies every other
  // binary field, and are written straight from the ring.
  const bulkBytes = sink ? liftBulkBytes(value as AppMessage) : undefined;
  const message = parseMessage(value, apps);
  if (sink && message.t === "app") batchWaits.push(store(message, sink, bulkBytes!));
  if (message.t === "peers" && phase !== "open") {
    // A peer refusing us (full, shutting down) says where else to go before its bye.
    batch.push(message);
    return;
  }
  if (message.t === "bye") {
    batch.push(message);
    await flushBatch();
    inbound.closeConsumer();
    closeGracefully(null);
    return;
  }
  switch (phase) {
    case "hello":
      if (message.t !== "hello") throw unexpected(message.t, "hello");
      await onHello(message, body);
      return;
    case "auth":
      if (message.t !== "auth") throw unexpected(message.t, "auth");
      await onAuth(message);
      return;
    case "open":
      if (message.t === "hello" || message.t === "auth") {
        throw unexpected(message.t, "no second handshake");
      }
      if (message.t === "ping") {
        // Answered here, not by the main thread: two thread hops less per round trip. The main
        // thread still pumps the socket, so a stuck peer still stops answering. At most one pong
        // waits: a peer that floods pings and reads nothing gets its latest answered, and the
        // queue does not grow.
        if (queuedPong) queuedPong.message = { t: "pong", n: message.n };
        else {
          queuedPong = { message: { t: "pong", n: message.n }, credit: 0 };
          urgent.push(queuedPong);
        }
        outbound.wake();
        pump();
        return;
      }
      batch.push(message);
      return;
  }
}

async function onHello(hello: Hello, body: Uint8Array): Promise<void> {
  if (hello.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      "version-mismatch",
      `peer speaks protocol version ${hello.v}, this peer speaks version ${PROTOCOL_VERSION}`,
    );
  }
  theirEphemeral = hello.e;
  const theirBody = body.slice();
  const [dialerHello, acceptorHello] = init.dialer
    ? [myHelloBody, theirBody]
    : [theirBody, myHelloBody];
  transcript = await transcriptOf(dialerHello, acceptorHello);
  // Signing needs only the transcript: it runs on another thread while the keys are derived.
  const [session, signature] = await Promise.all([
    deriveSession(ephemeral, hello.e, transcript, init.dialer),
    crypto.subtle.sign(
      "Ed25519",
      init.privateKey,
      authPayload(init.dialer ? ROLE_DIALER : ROLE_ACCEPTOR, transcript) as BufferSource,
    ),
  ]);
  const sig = new Uint8Array(signature);
  // Everything after our hello is sealed: the hello is the first frame in the queue, and the
  // auth enqueued below is sealed when its turn comes.
  sendCipher = session.send;
  receiveCipher = session.receive;
  const auth: Auth = {
    t: "auth",
    key: init.publicKey,
    sig,
    nick: init.nick,
    apps: Object.keys(init.apps),
    ...(init.listen ? { listen: init.listen } : {}),
  };
  phase = "auth";
  // A dialer that pins the peer's id proves its own only to that peer: it answers the remote's
  // auth once checked, so a wrong peer learns nothing of who dialed and never sees it connect.
  if (init.expectPeer !== undefined) {
    deferredAuth = auth;
    return;
  }
  enqueue(auth, 0);
  outbound.wake();
  pump();
}

async function onAuth(auth: Auth): Promise<void> {
  const id = await peerIdFromKey(auth.key);
  const signed = authPayload(init.dialer ? ROLE_ACCEPTOR : ROLE_DIALER, transcript);
  if (!(await verifySignature(auth.key, auth.sig, signed))) {
    throw new ProtocolError(
      "bad-identity",
      `peer could not prove it holds the key of id ${id}: its signature of this handshake does ` +
        `not verify`,
    );
  }
  if (init.expectPeer !== undefined && id !== init.expectPeer) {
    throw new ProtocolError(
      "wrong-peer",
      `expected peer ${init.expectPeer} but the peer there proved to be ${id}`,
    );
  }
  if (deferredAuth) {
    enqueue(deferredAuth, 0);
    deferredAuth = null;
    outbound.wake();
    pump();
  }
  phase = "open";
  const { t: _t, sig: _sig, ...proven } = auth;
  post({
    type: "ready",
    hello: { id, ...proven },
    nonces: { mine: toHex(ephemeral.publicKey), theirs: toHex(theirEphemeral) },
  });
}

/**
 * Hands the current batch to the delivery chain, which posts batches in order, each once the
 * files writes and hashes of its messages are done. The read loop goes on meanwhile: the ring is
 * released as soon as bulk bytes are copied out, so receiving, writing and hashing overlap.
 */
function flushBatch(): Promise<void> {
  if (batch.length === 0) return delivery;
  const messages = batch;
  const waits = batchWaits;
  batch = [];
  batchWaits = [];
  queuedBatches++;
  delivery = delivery
    .then(async () => {
      await Promise.all(waits);
      await postBatch(messages);
    })
    .catch(fail)
    .finally(() => {
      queuedBatches--;
      progress();
    });
  return delivery;
}

async function postBatch(messages: Message[]): Promise<void> {
  while (true) {
    const done = Atomics.load(control, Slot.batchesDone);
    if (Atomics.load(control, Slot.batchesPosted) - done < MAX_BATCHES_IN_FLIGHT) break;
    const wait = Atomics.waitAsync(control, Slot.batchesDone, done, 1000);
    if (wait.async) await wait.value;
    if (inbound.consumerDone) return;
  }
  Atomics.add(control, Slot.batchesPosted, 1);
  post({ type: "messages", messages }, transferables(messages));
}

/** Waits while too many batches wait to be posted or too many pieces are being stored. */
async function room(): Promise<void> {
  while (queuedBatches >= MAX_QUEUED_BATCHES || storing >= MAX_STORING) {
    const { promise, resolve } = Promise.withResolvers<void>();
    onProgress = resolve;
    await promise;
  }
}

function progress(): void {
  const wake = onProgress;
  onProgress = null;
  wake?.();
}

function enqueue(message: Message, credit: number): void {
  queue.push({ message, credit });
}

function enqueueBody(body: Uint8Array, credit: number): void {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  new DataView(bytes.buffer).setUint32(0, body.length);
  bytes.set(body, FRAME_HEADER_BYTES);
  queue.push({ bytes, credit });
}

/** Moves queued frames into the outbound ring: sealed once the handshake has keys. */
async function pump(): Promise<void> {
  if (pumping) return;
  pumping = true;
  try {
    while ((urgent.length > 0 || queue.length > 0) && !outbound.consumerDone) {
      if (sendCipher && !init.plaintext) await pumpSealed(sendCipher);
      else await pumpPlain();
    }
    outbound.wake();
    if (closeAfterDrain && queue.length === 0) outbound.closeProducer();
  } finally {
    pumping = false;
  }
}

/**
 * Writes the next frame unsealed: the hello, a bye before the handshake has keys, and every frame
 * of the benchmark's internal plaintext mode. A message is encoded only when its turn comes, into
 * the codec's reused buffer, and copied straight into the ring, in pieces if the ring is short
 * of space: nothing else encodes while a frame is part-written, so the buffer stays valid.
 */
async function pumpPlain(): Promise<void> {
  // Frames are never interleaved: urgent ones go first at the next frame boundary.
  const from = urgent.length > 0 ? urgent : queue;
  const head = from[0];
  if (head.fill) {
    await writeFromFile(head.message as AppMessage, head.fill);
    from.shift();
    returnCredit(head.credit);
    return;
  }
  let frame = head.bytes;
  if (!frame) {
    if (head === queuedPong) queuedPong = null; // being written: the next ping gets its own
    const body = encodeShared(head.message!);
    headerBytes.setUint32(0, body.length);
    frame = body;
    head.bytes = body;
    head.message = undefined;
    await writeAll(headerScratch);
  }
  await writeAll(frame);
  from.shift();
  returnCredit(head.credit);
}

/**
 * Seals a window of queued frames at once and writes them in order. Web Crypto seals on other
 * threads and copies its input when called, so the next frame is encoded (into the codec's
 * reused buffer) while earlier ones are sealed, and their nonces follow the order of the calls.
 */
async function pumpSealed(cipher: FrameCipher): Promise<void> {
  const sealing: { heads: Pending[]; parts: Promise<Uint8Array[]> }[] = [];
  let bytes = 0;
  while (
    (urgent.length > 0 || queue.length > 0) && sealing.length < MAX_SEALING &&
    bytes < SEALING_BYTES
  ) {
    const head = takeNext();
    if (head.bytes) {
      sealing.push({ heads: [head], parts: Promise.resolve([head.bytes]) }); // the hello, prebuilt
      continue;
    }
    const heads = [head];
    let plain = head.fill
      ? bulkPlaintext(head.message as AppMessage, head.fill)
      : encodeShared(head.message!);
    if (!plain) {
      sealing.push({ heads, parts: Promise.resolve([]) });
      continue;
    }
    if (!head.fill && plain.length < BATCH_BYTES && nextIsSmallMessage()) {
      // Small messages ready together go in one sealed frame: one seal and one open for many,
      // where each costs a hop to another thread (see docs/ARCHITECTURE.md).
      let length = appendToBatch(plain, 0);
      while (heads.length < MAX_BATCH && nextIsSmallMessage()) {
        const body = encodeShared(peekNext()!.message!);
        if (length + body.length > BATCH_BYTES) break;
        length = appendToBatch(body, length);
        heads.push(takeNext());
      }
      plain = batchBuffer.subarray(0, length);
    }
    bytes += plain.length;
    const lengthBytes = new Uint8Array(FRAME_HEADER_BYTES);
    new DataView(lengthBytes.buffer).setUint32(0, plain.length + TAG_BYTES);
    const parts = cipher.seal(plain, lengthBytes).then((sealed) => [lengthBytes, sealed]);
    parts.catch(() => {}); // awaited below, in order; an earlier failure must not leave it loose
    sealing.push({ heads, parts });
  }
  for (const { heads, parts } of sealing) {
    for (const part of await parts) await writeAll(part);
    for (const head of heads) returnCredit(head.credit);
  }
}

/** Plaintext of a sealed frame that carries several messages: the cipher copies it when called. */
const batchBuffer = new Uint8Array(BATCH_BYTES);

function appendToBatch(body: Uint8Array, at: number): number {
  batchBuffer.set(body, at);
  return at + body.length;
}

/** The next frame to send: heartbeats first, then the rest in order. */
function takeNext(): Pending {
  const head = (urgent.length > 0 ? urgent : queue).shift()!;
  if (head === queuedPong) queuedPong = null; // being sealed: the next ping gets its own
  return head;
}

function peekNext(): Pending | undefined {
  return urgent.length > 0 ? urgent[0] : queue[0];
}

function nextIsSmallMessage(): boolean {
  const next = peekNext();
  return next !== undefined && next.message !== undefined && !next.fill && !next.bytes;
}

/** Reused plaintext of sealed bulk frames: the cipher copies it when called. */
let bulkBuffer = new Uint8Array(0);

/**
 * The plaintext body of an app message whose bulk field is read from a file: the body encoded
 * with an empty bin as its last field, those two bytes (c4 00) replaced by a bin32 header of the
 * real length, then the file's bytes. Null (and the main thread told) if the file cannot be read.
 */
function bulkPlaintext(message: AppMessage, range: FileRange): Uint8Array | null {
  const file = openSourceOrSay(range);
  if (!file) return null;
  const field = init.bulk[message.app].data;
  const { [field]: _omit, ...rest } = message.body;
  const body = encodeShared({ ...message, body: { ...rest, [field]: EMPTY } });
  const prefix = body.length - 2;
  const length = prefix + 5 + range.length;
  if (bulkBuffer.length < length) bulkBuffer = new Uint8Array(length);
  const plain = bulkBuffer.subarray(0, length);
  plain.set(body.subarray(0, prefix));
  plain[prefix] = 0xc6;
  new DataView(plain.buffer).setUint32(prefix + 1, range.length);
  try {
    // Synchronous file I/O on purpose: this thread serves one connection (see writeFromFile).
    file.seekSync(range.offset, Deno.SeekMode.Start);
    let at = prefix + 5;
    while (at < length) {
      const count = file.readSync(plain.subarray(at));
      if (count === null) throw new Error(`${range.path} shrank while it was being sent`);
      at += count;
    }
  } catch (error) {
    closeSource(range.path);
    throw error;
  }
  return plain;
}

/** Returns send credit to the main thread, which may be waiting for its queue to drain. */
function returnCredit(bytes: number): void {
  if (bytes === 0) return;
  Atomics.add(control, Slot.sentBytes, bytes);
  Atomics.notify(control, Slot.sentBytes);
}

/**
 * Sends an app message whose bulk field is read from a file straight into the ring. The body is
 * encoded with an empty bin as its last field; those two bytes (c4 00) are replaced by a bin32
 * header of the real length, followed by the file's bytes.
 */
async function writeFromFile(message: AppMessage, range: FileRange): Promise<void> {
  const file = openSourceOrSay(range);
  if (!file) return;
  try {
    const field = init.bulk[message.app].data;
    const { [field]: _omit, ...rest } = message.body;
    const body = encodeShared({ ...message, body: { ...rest, [field]: EMPTY } });
    const prefix = body.subarray(0, body.length - 2);
    headerBytes.setUint32(0, prefix.length + 5 + range.length);
    await writeAll(headerScratch);
    await writeAll(prefix);
    binHeader[0] = 0xc6;
    new DataView(binHeader.buffer).setUint32(1, range.length);
    await writeAll(binHeader);
    // Synchronous file I/O on purpose: this thread serves one connection, and an async read
    // would hop to a thread pool and back for every part (measured: ~1.2x slower end to end).
    file.seekSync(range.offset, Deno.SeekMode.Start);
    let left = range.length;
    while (left > 0) {
      const space = outbound.writable();
      if (space.length === 0) {
        outbound.wake();
        await outbound.waitWritable();
        if (outbound.consumerDone) return;
        continue;
      }
      const count = file.readSync(space.subarray(0, Math.min(left, space.length, FILE_READ_MAX)));
      // The frame's length is on the wire already: a file that shrinks now breaks the stream.
      if (count === null) throw new Error(`${range.path} shrank while it was being sent`);
      outbound.commit(count);
      left -= count;
    }
  } catch (error) {
    closeSource(range.path);
    throw error;
  }
}

/**
 * The source of a message sent from a file, or null when it cannot be read: nothing of the frame
 * is written yet, so the message is skipped and the main thread told why.
 */
function openSourceOrSay(range: FileRange): Deno.FsFile | null {
  try {
    return openSource(range);
  } catch (error) {
    post({
      type: "send-failed",
      message: `cannot send from ${range.path}: ${(error as Error).message}`,
    });
    return null;
  }
}

/** An open handle on a file to send from, checked to hold the range. */
function openSource(range: FileRange): Deno.FsFile {
  let source = sources.get(range.path);
  if (source && range.offset + range.length > source.size) {
    source.size = source.file.statSync().size; // it may have grown
  }
  if (!source) {
    const file = Deno.openSync(range.path, { read: true });
    source = { file, size: file.statSync().size };
    if (sources.size >= MAX_SOURCES) closeSource(sources.keys().next().value!);
  }
  sources.delete(range.path);
  sources.set(range.path, source);
  if (range.offset + range.length > source.size) {
    throw new Error(
      `${range.path} holds ${source.size} bytes, fewer than ${range.offset} + ${range.length}`,
    );
  }
  return source.file;
}

function closeSource(path: string): void {
  sources.get(path)?.file.close();
  sources.delete(path);
}

function setSink(request: SinkRequest): void {
  const key = `${request.app}\0${request.key}`;
  sinks.get(key)?.file?.close();
  sinks.delete(key);
  if (request.path !== null) {
    sinks.set(key, {
      key: request.key,
      path: request.path,
      size: request.size,
      verify: request.verify,
    });
  }
}

/** The sink an app message's bulk bytes go to, if its app has bulk fields and a sink for its key. */
function sinkFor(value: unknown): Sink | undefined {
  const message = value as { t?: unknown; app?: unknown; body?: Record<string, unknown> };
  if (message?.t !== "app" || typeof message.app !== "string") return undefined;
  const bulk = Object.hasOwn(init.bulk, message.app) ? init.bulk[message.app] : undefined;
  const key = bulk && message.body?.[bulk.key];
  // Only messages that carry bulk bytes: other messages of the app may name the same key.
  if (typeof key !== "string" || !(message.body![bulk!.data] instanceof Uint8Array)) {
    return undefined;
  }
  return sinks.get(`${message.app}\0${key}`);
}

/** Takes the bulk field out of a decoded app message, checked against its schema's limit. */
function liftBulkBytes(message: AppMessage): Uint8Array {
  const field = init.bulk[message.app].data;
  const data = message.body?.[field];
  const where = `${message.app} message.${field}`;
  if (!(data instanceof Uint8Array)) {
    throw new ProtocolError("bad-message", `${where}: expected binary`);
  }
  const max = binFieldMax(apps[message.app], message.body, field);
  if (max !== undefined && data.length > max) {
    throw new ProtocolError("bad-message", `${where}: ${data.length} bytes exceeds ${max}`);
  }
  message.body[field] = EMPTY;
  return data;
}

function binFieldMax(
  schema: Schema,
  body: Record<string, unknown>,
  field: string,
): number | undefined {
  const fields = schema.kind === "map"
    ? schema.fields
    : schema.kind === "oneOf"
    ? schema.variants[String(body[schema.tag])]?.fields
    : undefined;
  let of = fields?.[field];
  if (of?.kind === "optional") of = of.of;
  return of?.kind === "bin" ? of.max : undefined;
}

/**
 * Stores a message's bulk bytes at their offset in the sink's file and sets `message.stored`.
 * A plain sink writes them straight from the ring (synchronously: this thread serves one
 * connection). A verifying sink first checks that they are one whole piece, then hands a copy to
 * a hash worker, which writes it only if it matches the piece's hash; the read loop goes on
 * meanwhile, so receiving and hashing overlap.
 */
function store(message: AppMessage, sink: Sink, data: Uint8Array): Promise<void> {
  const bulk = init.bulk[message.app];
  const offset = message.body[bulk.offset] as number;
  delete message.body[bulk.data];
  if (sink.size !== undefined && offset + data.length > sink.size) {
    throw new ProtocolError(
      "bad-message",
      `${data.length} bytes at offset ${offset} run past the end of "${sink.key}" (${sink.size} bytes)`,
    );
  }
  const stored: StoredData = { path: sink.path, offset, length: data.length, status: "written" };
  message.stored = stored;
  if (sink.verify) return verifyPiece(sink, sink.verify, stored, data);
  try {
    sink.file ??= Deno.openSync(sink.path, { write: true, create: true });
    sink.file.seekSync(offset, Deno.SeekMode.Start);
    let at = 0;
    while (at < data.length) at += sink.file.writeSync(data.subarray(at));
  } catch (error) {
    stored.status = "failed";
    stored.reason = `cannot write ${sink.path}: ${(error as Error).message}`;
  }
  return Promise.resolve();
}

function verifyPiece(
  sink: Sink,
  verify: PieceHashes,
  stored: StoredData,
  data: Uint8Array,
): Promise<void> {
  const piece = stored.offset / verify.pieceSize;
  const expectedLength = Math.min(verify.pieceSize, sink.size! - stored.offset);
  if (!Number.isInteger(piece) || data.length !== expectedLength || hashers.length === 0) {
    stored.status = "corrupt";
    stored.reason = hashers.length === 0
      ? "no hash workers to verify it with"
      : `${data.length} bytes at offset ${stored.offset} are not piece ${Math.floor(piece)}`;
    return Promise.resolve();
  }
  // Copies out of shared memory are fast only when aligned: place the copy at the data's
  // alignment.
  const pad = data.byteOffset % 8;
  let buffer = pieceBuffers.pop();
  if (!buffer || buffer.byteLength < pad + data.length) buffer = new ArrayBuffer(pad + data.length);
  new Uint8Array(buffer, pad, data.length).set(data);
  // The least busy hash worker; ties at random, or every connection would start on the first.
  const start = Math.floor(Math.random() * hashers.length);
  let hasher = hashers[start];
  for (let i = 1; i < hashers.length; i++) {
    const other = hashers[(start + i) % hashers.length];
    if (other.waiting < hasher.waiting) hasher = other;
  }
  const id = nextVerifyId++;
  const task: VerifyTask = {
    id,
    buffer,
    byteOffset: pad,
    length: data.length,
    expected: verify.hashes.slice(piece * HASH_BYTES, (piece + 1) * HASH_BYTES),
    path: sink.path,
    offset: stored.offset,
  };
  storing++;
  hasher.waiting++;
  const { promise, resolve } = Promise.withResolvers<void>();
  verifying.set(id, (reply) => {
    storing--;
    pieceBuffers.push(reply.buffer);
    stored.status = reply.status;
    if (reply.reason) stored.reason = reply.reason;
    progress();
    resolve();
  });
  hasher.port.postMessage(task, [buffer]);
  return promise;
}

async function writeAll(bytes: Uint8Array): Promise<void> {
  let at = outbound.write(bytes);
  while (at < bytes.length && !outbound.consumerDone) {
    outbound.wake();
    await outbound.waitWritable();
    at += outbound.write(bytes.subarray(at));
  }
}

function closeGracefully(reason: string | null, code?: ByeCode): void {
  if (closeAfterDrain) return;
  if (reason !== null) {
    enqueue({ t: "bye", reason: reason.slice(0, 200), ...(code ? { code } : {}) }, 0);
  }
  phase = "closing";
  closeAfterDrain = true;
  pump();
}

function fail(error: unknown): void {
  const protocol = error instanceof ProtocolError;
  const message = error instanceof Error ? error.message : String(error);
  post({ type: "error", code: protocol ? error.code : "internal", message });
  inbound?.closeConsumer();
  const limit = protocol && error.code === "rate-limited";
  if (outbound) closeGracefully(`protocol error: ${message}`, limit ? "limit" : "protocol");
}

function unexpected(got: string, expected: string): ProtocolError {
  return new ProtocolError(
    "unexpected-message",
    `got "${got}" where the protocol expects ${expected}`,
  );
}

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

const EMPTY = new Uint8Array(0);
// Read a file in quarters of the ring, so the main thread sends one part while the next is read
// (measured against 64 and 128 KiB parts: ~10% faster end to end).
const FILE_READ_MAX = RING_BYTES / 4;
// Files being sent from stay open between pieces: most recently used last.
const sources = new Map<string, { file: Deno.FsFile; size: number }>();
const MAX_SOURCES = 8;
const binHeader = new Uint8Array(5);
const headerScratch = new Uint8Array(FRAME_HEADER_BYTES);
const headerBytes = new DataView(headerScratch.buffer);

function readLength(bytes: Uint8Array): number {
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

/** Binary fields of app bodies were copied by validation into buffers of their own: move them. */
function transferables(messages: Message[]): Transferable[] {
  const out: ArrayBuffer[] = [];
  const walk = (value: unknown): void => {
    if (value instanceof Uint8Array) {
      if (value.byteLength > 1024 && value.buffer instanceof ArrayBuffer) out.push(value.buffer);
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === "object" && value !== null) Object.values(value).forEach(walk);
  };
  for (const message of messages) if (message.t === "app") walk(message.body);
  return out;
}
