import assert from "node:assert/strict";
import fc from "fast-check";
import { NullCipher, nullCipherSuite } from "./null_cipher.ts";

Deno.test("the null cipher adds no bytes: what it seals is the plaintext, and opens as it is", async () => {
  const cipher = await nullCipherSuite.create(new Uint8Array(32));
  assert.equal(cipher.sync, true);
  assert.equal(cipher.tagBytes, 0);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 20_000 }), fc.nat(7), fc.nat(7), (body, from, to) => {
      // Shared memory at any alignment, as the outbound ring is.
      const source = new Uint8Array(body.length + 8).subarray(from, from + body.length);
      source.set(body);
      const out = new Uint8Array(new SharedArrayBuffer(body.length + 8)).subarray(
        to,
        to + body.length,
      );
      const sender = new NullCipher();
      sender.sealStart(new Uint8Array(4));
      const half = Math.floor(body.length / 2);
      sender.sealPart(source.subarray(0, half), out.subarray(0, half));
      sender.sealPart(source.subarray(half), out.subarray(half));
      sender.sealEnd(new Uint8Array(0));
      assert.deepEqual(new Uint8Array(out), body);
      const receiver = new NullCipher();
      assert.equal(receiver.open(out, new Uint8Array(4)), out, "the same view: no copy");
      assert.equal(sender.counter, 1);
      assert.equal(receiver.counter, 1);
    }),
  );
});

Deno.test("the null cipher seals in place", () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const cipher = new NullCipher();
  cipher.sealStart(new Uint8Array(4));
  cipher.sealPart(bytes, bytes);
  assert.deepEqual(bytes, new Uint8Array([1, 2, 3]));
});
