import assert from "node:assert/strict";
import fc from "fast-check";
import { WebCryptoAesGcm } from "../aes_gcm_webcrypto.ts";
import { concatBytes } from "../bytes.ts";
import type { Cipher } from "../cipher.ts";
import { encodeShared } from "../codec.ts";
import { ProtocolError } from "../errors.ts";
import { writeFrameHeader } from "../frame.ts";
import { NullCipher } from "../null_cipher.ts";
import { ByteRing } from "../ring.ts";
import { frameOf, randomBytes } from "../testing.ts";
import { Inbound, MAX_PLAIN_FRAME } from "./inbound.ts";
import { InboundLimits } from "./token_bucket.ts";
import { withLoopAlive } from "../_loop_alive.ts";

const NO_LIMITS = { framesPerSecond: 0, bytesPerSecond: 0 };

/** Writes `bytes` into the ring in chunks cut at `cuts`, waiting for room, then closes it. */
async function produce(ring: ByteRing, bytes: Uint8Array, cuts: number[] = []): Promise<void> {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1))), bytes.length].sort((a, b) =>
    a - b
  );
  let from = 0;
  for (const point of points) {
    let at = from;
    while (at < point && !ring.consumerDone) {
      at += ring.write(bytes.subarray(at, point));
      ring.wake();
      if (at < point) await ring.waitWritable();
    }
    from = point;
    await new Promise((resolve) => setTimeout(resolve, 0)); // the reader takes a turn
  }
  ring.closeProducer();
}

/** Runs an inbound layer over `ring`, collecting copies of the bodies it hands up. */
function collect(
  ring: ByteRing,
  options: { cipher?: Cipher; maxFrameSize?: number; limits?: typeof NO_LIMITS } = {},
) {
  const bodies: { body: Uint8Array; opened: boolean }[] = [];
  const inbound = new Inbound(ring, {
    maxFrameSize: options.maxFrameSize ?? 1 << 20,
    limits: new InboundLimits(options.limits ?? NO_LIMITS),
    frame: (body, opened) => void bodies.push({ body: body.slice(), opened }),
    afterRead: () => {},
    signal: new AbortController().signal,
  });
  if (options.cipher) inbound.useCipher(options.cipher);
  return { bodies, inbound };
}

/** `promise`, with its failure held for a later `assert.rejects` rather than left unhandled. */
function settled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

Deno.test("frames pushed through a ring in arbitrary chunks come out whole and in order", () =>
  withLoopAlive(() =>
    fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.constantFrom(64, 1024, 8192),
        async (bodies, cuts, capacity) => {
          // Small rings: frames wrap around, and some are larger than the ring.
          const ring = ByteRing.create(capacity);
          const { bodies: got, inbound } = collect(ring);
          const stream = new Uint8Array(bodies.flatMap((body) => [...frameOf(body)]));
          const [result] = await Promise.all([inbound.run(), produce(ring, stream, cuts)]);
          assert.equal(result, "ended");
          assert.deepEqual(got.map((g) => g.body), bodies);
          assert.ok(got.every((g) => !g.opened), "in the clear: no cipher yet");
        },
      ),
      { numRuns: 60 },
    )
  ));

Deno.test("sealed frames are opened in order, by an asynchronous or a synchronous cipher", () =>
  withLoopAlive(async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const bodies = [1, 200, 70_000, 5, 300_000].map(randomBytes);
    for (const kind of ["async", "sync"] as const) {
      const sender = kind === "async" ? await WebCryptoAesGcm.fromKey(key) : new NullCipher();
      const frames: Uint8Array[] = [];
      for (const body of bodies) {
        const header = new Uint8Array(4);
        writeFrameHeader(header, body.length + sender.tagBytes);
        let sealed: Uint8Array;
        if (sender.sync) {
          sealed = new Uint8Array(body.length);
          sender.sealStart(header);
          sender.sealPart(body, sealed);
        } else sealed = await sender.seal(body, header);
        frames.push(header, sealed);
      }
      const ring = ByteRing.create(4096);
      const receiver = kind === "async" ? await WebCryptoAesGcm.fromKey(key) : new NullCipher();
      const { bodies: got, inbound } = collect(ring, { cipher: receiver });
      await Promise.all([inbound.run(), produce(ring, concatBytes(...frames), [3, 5000, 9000])]);
      assert.deepEqual(got.map((g) => g.body), bodies, kind);
      assert.ok(got.every((g) => g.opened), kind);
    }
  }));

Deno.test("an oversized frame before the handshake has keys is refused", () =>
  withLoopAlive(async () => {
    const ring = ByteRing.create(1 << 18);
    const { bodies, inbound } = collect(ring);
    const small = frameOf(new Uint8Array([0xc0]));
    const large = frameOf(new Uint8Array(MAX_PLAIN_FRAME + 1));
    const running = settled(inbound.run());
    await produce(ring, new Uint8Array([...small, ...large]));
    await assert.rejects(running, (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.equal(error.code, "frame-too-large");
      assert.match(error.message, /frame of 65537 bytes before encryption started exceeds 65536/);
      return true;
    });
    assert.equal(bodies.length, 1, "the frame before it was handed up first");

    // Once the handshake has keys, frames up to the limit are taken.
    const open = ByteRing.create(1 << 18);
    const keyed = collect(open, { cipher: new NullCipher() });
    await Promise.all([keyed.inbound.run(), produce(open, large)]);
    assert.equal(keyed.bodies[0].body.length, MAX_PLAIN_FRAME + 1);
  }));

Deno.test("a stream cut inside a frame is truncated; an abort stops reading", () =>
  withLoopAlive(async () => {
    const ring = ByteRing.create(1024);
    const { inbound } = collect(ring);
    const frame = frameOf(new Uint8Array(100));
    const running = settled(inbound.run());
    await produce(ring, frame.subarray(0, 50));
    await assert.rejects(running, /connection ended inside a frame: got 46 of 100 body bytes/);

    const stopping = new AbortController();
    const handled: number[] = [];
    const stopped = ByteRing.create(1024);
    const stoppable = new Inbound(stopped, {
      maxFrameSize: 1024,
      limits: new InboundLimits(NO_LIMITS),
      frame: (body) => {
        handled.push(body.length);
        stopping.abort(); // e.g. a bye
      },
      afterRead: () => {},
      signal: stopping.signal,
    });
    stopped.write(new Uint8Array([...frameOf(new Uint8Array(1)), ...frameOf(new Uint8Array(2))]));
    assert.equal(await stoppable.run(), "stopped");
    assert.deepEqual(handled, [1], "nothing after the frame that stopped it");
  }));

Deno.test("a bye in the clear is read as one in place of the first sealed frame, never after", () =>
  withLoopAlive(async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const bye = frameOf(encodeShared({ t: "bye", reason: "full", code: "full" }).slice());
    const early = ByteRing.create(1024);
    const first = collect(early, { cipher: await WebCryptoAesGcm.fromKey(key) });
    await Promise.all([first.inbound.run(), produce(early, bye)]);
    assert.equal(first.bodies.length, 1, "the bye was handed up");

    const sender = await WebCryptoAesGcm.fromKey(key);
    const body = new Uint8Array([0xc0]);
    const header = new Uint8Array([0, 0, 0, 17]);
    const sealed = new Uint8Array([...header, ...await sender.seal(body, header)]);
    const late = ByteRing.create(1024);
    const second = collect(late, { cipher: await WebCryptoAesGcm.fromKey(key) });
    const running = settled(second.inbound.run());
    await produce(late, new Uint8Array([...sealed, ...bye]));
    await assert.rejects(running, /frame 1 failed authentication/);
    assert.equal(second.bodies.length, 1, "the sealed frame was handed up, the bye refused");
  }));

Deno.test("frames past the rate limit close the connection", () =>
  withLoopAlive(async () => {
    const ring = ByteRing.create(1024);
    const { bodies, inbound } = collect(ring, {
      limits: { framesPerSecond: 2, bytesPerSecond: 0 },
    });
    const frames = Array.from({ length: 6 }, () => [...frameOf(new Uint8Array([0xc0]))]).flat();
    const running = settled(inbound.run());
    await produce(ring, new Uint8Array(frames));
    await assert.rejects(running, /peer sent frames faster than the limit of 2 a second/);
    assert.equal(bodies.length, 4, "a burst of twice the rate was taken");
  }));
