import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeValue } from "./codec.ts";
import { ProtocolError } from "./errors.ts";
import { encodeFrame, FrameDecoder, readFrameHeader, writeFrameHeader } from "./frame.ts";
import { concatBytes as concat } from "./bytes.ts";

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

const messageArb = fc.oneof(
  fc.record({ t: fc.constant("ping"), n: fc.nat() }),
  fc.record({
    t: fc.constant("app"),
    app: fc.string({ maxLength: 8 }),
    body: fc.dictionary(fc.string().filter((key) => key !== "__proto__"), fc.string()),
  }),
  fc.record({ t: fc.constant("blob"), data: fc.uint8Array({ maxLength: 3000 }) }),
);

Deno.test("frames split at random points decode to the same messages", () => {
  fc.assert(
    fc.property(
      fc.array(messageArb, { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (messages, cuts) => {
        const stream = concat(...messages.map(encodeFrame));
        const decoder = new FrameDecoder();
        // Bodies are views valid until the next push: copy before keeping what they decode to.
        const decoded = splitAt(stream, cuts).flatMap((chunk) =>
          decoder.push(chunk).map((body) => decodeValue(body.slice()))
        );
        decoder.end();
        assert.deepEqual(decoded, structuredClone(messages)); // fast-check makes null-prototype objects
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("frames fed one byte at a time decode", () => {
  const messages = [{ t: "ping", n: 1 }, { t: "bye", reason: "x".repeat(300) }, {
    t: "pong",
    n: 2,
  }];
  const stream = concat(...messages.map(encodeFrame));
  const decoder = new FrameDecoder();
  const decoded: unknown[] = [];
  for (let i = 0; i < stream.length; i++) {
    decoded.push(
      ...decoder.push(stream.subarray(i, i + 1)).map((body) => decodeValue(body.slice())),
    );
  }
  assert.deepEqual(decoded, messages);
});

Deno.test("random bytes end in frames or a ProtocolError, never anything else", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 4096 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (bytes, cuts) => {
        const decoder = new FrameDecoder({ maxFrameSize: 1024 });
        try {
          for (const chunk of splitAt(bytes, cuts)) {
            for (const body of decoder.push(chunk)) {
              assert.ok(body.length > 0 && body.length <= 1024);
              try {
                decodeValue(body);
              } catch {
                // invalid MessagePack is the worker's to report; the decoder only frames
              }
            }
          }
          decoder.end();
        } catch (error) {
          assert.ok(error instanceof ProtocolError, `unexpected ${error}`);
          assert.ok(decoder.pendingBytes <= 1024 + 4, "memory stays within one frame");
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("a frame over the limit is refused from its header, before its body arrives", () => {
  const decoder = new FrameDecoder({ maxFrameSize: 100 });
  const header = new Uint8Array([0, 0x10, 0, 0]); // 1 MiB
  assert.throws(() => decoder.push(header), (e: unknown) => {
    assert.ok(e instanceof ProtocolError);
    assert.equal(e.code, "frame-too-large");
    assert.match(e.message, /1048576 bytes exceeds the limit of 100 bytes/);
    return true;
  });
  assert.throws(
    () => decoder.push(new Uint8Array(1)),
    ProtocolError,
    "a failed decoder stays failed",
  );
});

Deno.test("a stream that ends inside a frame is reported as truncated", () => {
  const frame = encodeFrame({ t: "bye", reason: "see you" });
  const decoder = new FrameDecoder();
  decoder.push(frame.subarray(0, frame.length - 3));
  assert.throws(() => decoder.end(), /got \d+ of \d+ body bytes/);

  const headerOnly = new FrameDecoder();
  headerOnly.push(frame.subarray(0, 2));
  assert.throws(
    () => headerOnly.end(),
    (e: unknown) => e instanceof ProtocolError && e.code === "truncated",
  );
});

Deno.test("frames before a violation are returned first; the error follows", () => {
  const good = encodeFrame({ t: "ping", n: 1 });
  const stream = new Uint8Array(good.length + 4);
  stream.set(good);
  stream.set([0xff, 0xff, 0xff, 0xff], good.length);
  const decoder = new FrameDecoder();
  const frames = decoder.push(stream);
  assert.deepEqual(frames.map(decodeValue), [{ t: "ping", n: 1 }]);
  assert.throws(() => decoder.throwIfFailed(), /exceeds the limit/);
  assert.throws(() => decoder.push(new Uint8Array(1)), /exceeds the limit/);
});

Deno.test("a map key __proto__ is refused by the decoder, not merged into a prototype", () => {
  // fixmap(1) { "__proto__": 1 }, written by hand: encoders refuse to produce it.
  const body = new Uint8Array([0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 0x01]);
  assert.throws(() => decodeValue(body), /__proto__ is not allowed/);
});

Deno.test("an empty frame is refused", () => {
  assert.throws(() => new FrameDecoder().push(new Uint8Array(4)), /empty frame/);
});

Deno.test("the frame header is 4 bytes of big-endian length, written and read at any offset", () => {
  const buffer = new Uint8Array(9);
  writeFrameHeader(buffer, 0x01020304, 3);
  assert.deepEqual([...buffer], [0, 0, 0, 1, 2, 3, 4, 0, 0]);
  assert.equal(readFrameHeader(buffer, 3), 0x01020304);
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 32 - 1 }), fc.nat(4), (length, at) => {
      const bytes = new Uint8Array(8);
      writeFrameHeader(bytes, length, at);
      assert.equal(readFrameHeader(bytes, at), length);
      assert.equal(new DataView(bytes.buffer).getUint32(at), length, "as DataView reads it");
    }),
  );
  const frame = encodeFrame({ t: "ping", n: 1 });
  assert.equal(readFrameHeader(frame), frame.length - 4, "encodeFrame writes the same header");
});
