/**
 * The worker that services one connection. It owns everything per byte: framing, the encrypted
 * and signed handshake, sealing and opening every frame, MessagePack, schema checks, rate limits
 * and encoding. The main thread only moves (encrypted) bytes between the socket and the two
 * rings, and receives decoded, validated messages in batches.
 *
 * This file only wires the layers (in `worker/`), each fed by the one below it:
 *
 * - inbound ring -> {@linkcode Inbound} (frames, rate limits, opening) -> {@linkcode Router} ->
 *   {@linkcode Handshake}, {@linkcode BulkSinks} (-> {@linkcode PieceVerifier}), or
 *   {@linkcode Delivery} (batches to the main thread);
 * - messages from the main thread -> {@linkcode Outbox} (queue, batching, sealing; file bytes
 *   from {@linkcode BulkSource}) -> outbound ring.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { openSslAesGcm } from "./aes_gcm_openssl.ts";
import { webCryptoAesGcm } from "./aes_gcm_webcrypto.ts";
import type { Cipher } from "./cipher.ts";
import { ProtocolError } from "./errors.ts";
import type { Bye, ByeCode } from "./messages.ts";
import { nullCipherSuite } from "./null_cipher.ts";
import { ByteRing } from "./ring.ts";
import { type FromWorker, type InitRequest, Slot, type ToWorker } from "./worker_protocol.ts";
import { BulkSinks } from "./worker/bulk_sink.ts";
import { BulkSource } from "./worker/bulk_source.ts";
import { Delivery } from "./worker/delivery.ts";
import { Handshake } from "./worker/handshake.ts";
import { Inbound } from "./worker/inbound.ts";
import { Outbox } from "./worker/outbox.ts";
import { PieceVerifier } from "./worker/piece_verifier.ts";
import { Router } from "./worker/router.ts";
import { InboundLimits } from "./worker/token_bucket.ts";

let handle: ((request: ToWorker) => void) | null = null;

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const request = event.data;
  if (request.type === "init") handle = start(request);
  else handle?.(request);
};

/** Builds the layers of the connection `init` describes; returns what handles later requests. */
function start(init: InitRequest): (request: ToWorker) => void {
  const inboundRing = ByteRing.from(init.inbound);
  const outboundRing = ByteRing.from(init.outbound);
  const control = new Int32Array(init.control);
  // OpenSSL where it loads (synchronous, on this thread), else Web Crypto: the same bytes. The
  // unencrypted baseline of the benchmark takes the same path, with a cipher that copies.
  const suite = init.plaintext ? nullCipherSuite : openSslAesGcm() ?? webCryptoAesGcm;
  const ciphers: Cipher[] = [];
  const stopping = new AbortController();
  const limits = new InboundLimits(init.limits);
  const verifier = new PieceVerifier();
  const sinks = new BulkSinks(init.bulk, init.apps, verifier);
  for (const sink of init.sinks) sinks.set(sink);
  const source = new BulkSource(init.bulk, (message) => post({ type: "send-failed", message }));
  const outbox = new Outbox(outboundRing, {
    bulkPlaintext: (message, range) => source.plaintext(message, range),
    sent: (credit) => returnCredit(control, credit),
    failed: fail,
  });
  const delivery = new Delivery({
    control,
    post: (messages, transfer) => post({ type: "messages", messages }, transfer),
    stopped: () => inboundRing.consumerDone,
    failed: fail,
  });
  const handshake = new Handshake(
    { ...init, apps: Object.keys(init.apps) },
    suite,
    {
      hello: (body) => outbox.sendUnsealed(body),
      keys: (session) => {
        ciphers.push(session.send, session.receive);
        outbox.useCipher(session.send);
        inbound.useCipher(session.receive);
      },
      auth: (auth) => outbox.send([{ message: auth }]),
      ready: (remote, ephemeralKeys) => post({ type: "ready", remote, ephemeralKeys }),
    },
  );
  const router = new Router({
    apps: init.apps,
    limits,
    handshake,
    sinks,
    delivery,
    pong: (n) => outbox.pong(n),
    bye: async (bye) => {
      await delivery.flush();
      inboundRing.closeConsumer();
      // The other side drops this connection as a duplicate but reads on until our own bye:
      // what we send meanwhile still arrives. The main thread says when to end.
      if (bye.code === "duplicate") stopping.abort();
      else close();
    },
    signal: stopping.signal,
  });
  const inbound = new Inbound(inboundRing, {
    maxFrameSize: init.maxFrameSize + suite.tagBytes,
    limits,
    frame: (body, opened) => router.frame(body, opened),
    afterRead: async () => {
      delivery.flush();
      await delivery.room();
      await verifier.room();
    },
    signal: stopping.signal,
  });

  /** Stops reading; sends what is queued, then `bye` if given, then ends the outbound stream. */
  function close(bye?: Bye): void {
    stopping.abort();
    // Once the last frame is sealed nothing uses the keys: native ones are freed.
    outbox.close(bye).finally(() => {
      for (const cipher of ciphers.splice(0)) cipher.close?.();
    });
  }

  function fail(error: unknown): void {
    const protocol = error instanceof ProtocolError;
    const message = error instanceof Error ? error.message : String(error);
    post({ type: "error", code: protocol ? error.code : "internal", message });
    inboundRing.closeConsumer();
    const limit = protocol && error.code === "rate-limited";
    close(byeOf(`protocol error: ${message}`, limit ? "limit" : "protocol"));
  }

  (async () => {
    await handshake.start();
    post({ type: "started" }); // the handshake clock starts now, not when the worker was spawned
    if (await inbound.run() === "ended") post({ type: "end" });
  })().catch(fail);

  return (request) => {
    switch (request.type) {
      case "send":
        outbox.send(request.messages.map((message, i) => ({
          message,
          credit: request.credits[i],
          fill: request.fills[i],
        })));
        break;
      case "sink":
        sinks.set(request);
        break;
      case "hashers":
        verifier.useHashers(request.ports);
        break;
      case "end-sending":
        outbox.close(byeOf(request.reason, request.code));
        break;
      case "close":
        close(byeOf(request.reason, request.code));
        break;
    }
  };
}

function byeOf(reason: string, code?: ByeCode): Bye {
  return { t: "bye", reason: reason.slice(0, 200), ...(code ? { code } : {}) };
}

/** Returns send credit to the main thread, which may be waiting for its queue to drain. */
function returnCredit(control: Int32Array, bytes: number): void {
  if (bytes === 0) return;
  Atomics.add(control, Slot.sentBytes, bytes);
  Atomics.notify(control, Slot.sentBytes);
}

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}
