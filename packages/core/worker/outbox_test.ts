import assert from "node:assert/strict";
import { WebCryptoAesGcm } from "../aes_gcm_webcrypto.ts";
import type { Cipher } from "../cipher.ts";
import { decodeValues, encodeShared } from "../codec.ts";
import { FrameDecoder, writeFrameHeader } from "../frame.ts";
import type { AppMessage, FileRange, Message } from "../messages.ts";
import { NullCipher } from "../null_cipher.ts";
import { ByteRing } from "../ring.ts";
import { Outbox } from "./outbox.ts";
import { withLoopAlive } from "../_loop_alive.ts";

/** An outbox writing into a ring of `capacity`, with the credit it handed back. */
function outboxOn(
  capacity: number,
  bulkPlaintext = (_: AppMessage, __: FileRange) => null as Uint8Array | null,
) {
  const ring = ByteRing.create(capacity);
  const credits: number[] = [];
  const failures: unknown[] = [];
  const outbox = new Outbox(ring, {
    bulkPlaintext,
    sent: (credit) => credits.push(credit),
    failed: (error) => failures.push(error),
  });
  return { ring, outbox, credits, failures };
}

/** Reads frames out of `ring` until its producer closes: each frame's header and body. */
async function drain(ring: ByteRing): Promise<{ length: number; body: Uint8Array }[]> {
  const decoder = new FrameDecoder({ maxFrameSize: 1 << 24 });
  const frames: { length: number; body: Uint8Array }[] = [];
  while (true) {
    await ring.waitReadable();
    const view = ring.readable();
    if (view.length === 0 && ring.producerDone) return frames;
    for (const body of decoder.push(view)) frames.push({ length: body.length, body: body.slice() });
    ring.release(view.length);
  }
}

/** Opens each frame with `cipher` and decodes the messages in it. */
async function messagesOf(frames: { body: Uint8Array }[], cipher: Cipher | null) {
  const out: unknown[][] = [];
  for (const { body } of frames) {
    const header = new Uint8Array(4);
    writeFrameHeader(header, body.length);
    const plain = !cipher
      ? body
      : cipher.sync
      ? cipher.open(body, header)
      : await cipher.open(body, header);
    out.push(decodeValues(plain));
  }
  return out;
}

const say = (i: number): Message => ({ t: "app", app: "chat", body: { text: `m${i}` } });

Deno.test("frames come out of the ring in order, whole, with or without a cipher", () =>
  withLoopAlive(async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const ciphers: [string, () => Promise<[Cipher, Cipher]> | null][] = [
      ["none", () => null],
      ["null", () => Promise.resolve([new NullCipher(), new NullCipher()])],
      [
        "webcrypto",
        () => Promise.all([WebCryptoAesGcm.fromKey(key), WebCryptoAesGcm.fromKey(key)]),
      ],
    ];
    for (const [name, make] of ciphers) {
      const pair = await make();
      const { ring, outbox } = outboxOn(256); // smaller than some frames: written in parts
      if (pair) outbox.useCipher(pair[0]);
      const messages = Array.from(
        { length: 40 },
        (_, i) =>
          i % 7 === 3
            ? { t: "app" as const, app: "blob", body: { data: new Uint8Array(i * 100) } }
            : say(i),
      );
      const reading = drain(ring);
      for (const message of messages) outbox.send([{ message }]);
      outbox.close();
      const frames = await reading;
      const got = (await messagesOf(frames, pair?.[1] ?? null)).flat();
      assert.deepEqual(got, messages, name);
      if (!pair) assert.equal(frames.length, messages.length, "in the clear: one message a frame");
    }
  }));

Deno.test("small messages sent together share one sealed frame", () =>
  withLoopAlive(async () => {
    const { ring, outbox } = outboxOn(1 << 20);
    outbox.useCipher(new NullCipher());
    const reading = drain(ring);
    const messages = Array.from({ length: 100 }, (_, i) => ({ message: say(i) }));
    outbox.send(messages);
    outbox.close();
    const frames = await messagesOf(await reading, new NullCipher());
    assert.equal(frames.length, 1, "100 small messages, one frame");
    assert.deepEqual(frames[0], messages.map((m) => m.message));
  }));

Deno.test("a ping goes ahead of queued data; one pong waits at most", () =>
  withLoopAlive(async () => {
    const { ring, outbox } = outboxOn(64);
    outbox.useCipher(new NullCipher());
    // The ring fills with the first frame: the rest waits in the queue.
    const big = { t: "app" as const, app: "chat", body: { text: "x".repeat(100) } };
    outbox.send([{ message: big }]);
    outbox.send([{ message: big }, { message: big }]);
    outbox.send([{ message: { t: "ping", n: 7 } }]);
    outbox.pong(1);
    outbox.pong(2); // replaces the pong not yet sent
    outbox.close();
    const frames = await messagesOf(await drain(ring), new NullCipher());
    const order = frames.flat().map((m) => (m as Message).t === "app" ? "app" : JSON.stringify(m));
    assert.deepEqual(order, [
      "app", // was being written already
      JSON.stringify({ t: "ping", n: 7 }),
      JSON.stringify({ t: "pong", n: 2 }),
      "app",
      "app",
    ]);
  }));

Deno.test("credit comes back once a message's frame is in the ring", () =>
  withLoopAlive(async () => {
    const { ring, outbox, credits } = outboxOn(64);
    outbox.useCipher(new NullCipher());
    const message: Message = { t: "app", app: "c", body: { text: "y".repeat(30) } };
    outbox.send([{ message, credit: 1 }]); // fits the ring
    outbox.send([{ message, credit: 2 }, { message, credit: 3 }]); // one frame, too long for now
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(credits, [1], "only the first fits: the ring is full");
    const reading = drain(ring);
    outbox.close();
    await reading;
    assert.deepEqual(credits, [1, 2, 3]);
  }));

Deno.test("docs/PROTOCOL.md's worked example: a dialer's first ping on the wire; the null cipher adds nothing", () =>
  withLoopAlive(async () => {
    const body = [0x82, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa1, 0x6e, 0x01];
    const key = crypto.getRandomValues(new Uint8Array(32));
    const sealing = await WebCryptoAesGcm.fromKey(key);
    await sealing.seal(new Uint8Array(1), new Uint8Array(4)); // the auth was frame 0
    const sealed = outboxOn(1024);
    sealed.outbox.useCipher(sealing);
    await sealed.outbox.send([{ message: { t: "ping", n: 1 } }]);
    const wire = sealed.ring.readable().slice();
    assert.deepEqual([...wire.subarray(0, 4)], [0, 0, 0, 0x1b]);
    assert.equal(wire.length, 4 + 11 + 16);
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        additionalData: wire.subarray(0, 4),
      },
      await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]),
      wire.subarray(4),
    );
    assert.deepEqual([...new Uint8Array(plain)], body);

    const plainOut = outboxOn(1024);
    plainOut.outbox.useCipher(new NullCipher());
    await plainOut.outbox.send([{ message: { t: "ping", n: 1 } }]);
    assert.deepEqual([...plainOut.ring.readable()], [0, 0, 0, 11, ...body]);
  }));

Deno.test("a body given in the clear goes out as it is, after keys too; a bye goes last, even after pongs", () =>
  withLoopAlive(async () => {
    const { ring, outbox } = outboxOn(1024);
    const hello = encodeShared({ t: "hello", v: 2, e: new Uint8Array(32) }).slice();
    outbox.useCipher(await WebCryptoAesGcm.fromKey(new Uint8Array(32)));
    outbox.sendUnsealed(hello);
    outbox.send([{ message: say(1) }]);
    outbox.close({ t: "bye", reason: "done" });
    outbox.send([{ message: say(2) }]); // closing: not taken
    outbox.pong(3); // nor a pong: the other side may read on after our bye, but hears nothing
    const frames = await drain(ring);
    assert.equal(frames.length, 2);
    assert.deepEqual(frames[0].body, hello);
    const opened = await messagesOf(
      frames.slice(1),
      await WebCryptoAesGcm.fromKey(new Uint8Array(32)),
    );
    assert.deepEqual(opened, [[say(1), { t: "bye", reason: "done" }]]);
    assert.ok(ring.producerDone);
  }));

Deno.test("a message read from a file is sealed from the plaintext the bulk source builds, or skipped", () =>
  withLoopAlive(async () => {
    const piece = crypto.getRandomValues(new Uint8Array(5000));
    const { ring, outbox, credits } = outboxOn(
      1024,
      (message, range) =>
        range.path === "missing"
          ? null
          : encodeShared({ ...message, body: { ...message.body, data: piece } }).slice(),
    );
    outbox.useCipher(new NullCipher());
    const reading = drain(ring);
    const message: Message = { t: "app", app: "blob", body: { file: "f" } };
    outbox.send([
      { message, credit: 10, fill: { path: "missing", offset: 0, length: 5000 } },
      { message, credit: 20, fill: { path: "there", offset: 0, length: 5000 } },
    ]);
    outbox.close();
    const frames = await messagesOf(await reading, new NullCipher());
    assert.deepEqual(frames, [[{ ...message, body: { file: "f", data: piece } }]]);
    assert.deepEqual(credits, [10, 20], "a skipped message's credit comes back too");
  }));
