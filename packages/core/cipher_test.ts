import assert from "node:assert/strict";
import { decryptFailed, FrameNonces, MAX_FRAMES_PER_KEY } from "./cipher.ts";
import { ProtocolError } from "./errors.ts";

Deno.test("the nonce of frame n is 4 zero bytes and n as a big-endian u64", () => {
  const nonces = new FrameNonces();
  assert.deepEqual([...nonces.next()], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...nonces.next()], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(nonces.counter, 2);
  const high = new FrameNonces(2 ** 32 + 258);
  assert.deepEqual([...high.next()], [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2], "past 2^32");
});

Deno.test("no nonce is given past the frame limit of one key", () => {
  const nonces = new FrameNonces(MAX_FRAMES_PER_KEY - 1);
  nonces.next();
  assert.throws(() => nonces.next(), (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.code, "decrypt-failed");
    assert.match(error.message, /frames under one key: the connection must be reopened/);
    return true;
  });
});

Deno.test("a frame that fails to open is named by its counter", () => {
  const error = decryptFailed(7);
  assert.equal(error.code, "decrypt-failed");
  assert.match(error.message, /^frame 7 failed authentication: it was altered, replayed/);
});
