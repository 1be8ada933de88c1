import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import { InboundLimits, TokenBucket } from "./token_bucket.ts";

Deno.test("a token bucket refills by the time elapsed, up to its burst", () => {
  const bucket = new TokenBucket(100, 10, 0); // 100 a second, 10 at once
  assert.equal(bucket.take(10, 0), 0, "the burst is there from the start");
  assert.equal(bucket.take(1, 0), 10, "one token short: 10 ms until it is repaid");
  assert.equal(bucket.take(1, 20), 0, "20 ms refilled 2 tokens: the debt and this one");
  assert.equal(bucket.tokens, 0);
  bucket.take(0, 60_000);
  assert.equal(bucket.tokens, 10, "a minute of idling refills no more than the burst");
  assert.equal(bucket.take(30, 60_000), 200, "20 tokens of debt take 200 ms to repay");
});

Deno.test("a token bucket with a rate of 0 never runs out", () => {
  const bucket = new TokenBucket(0, 0, 0);
  for (let i = 0; i < 1000; i++) assert.equal(bucket.take(1_000_000, 0), 0);
});

Deno.test("frames past the limit are an offence; bytes past it only a delay", () => {
  const limits = new InboundLimits({ framesPerSecond: 10, bytesPerSecond: 1000 }, 0);
  for (let i = 0; i < 20; i++) assert.equal(limits.frame(10, 0), 0, "a burst of twice the rate");
  assert.throws(() => limits.frame(10, 0), (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.code, "rate-limited");
    assert.match(error.message, /peer sent frames faster than the limit of 10 a second/);
    return true;
  });

  const bytes = new InboundLimits({ framesPerSecond: 10, bytesPerSecond: 1000 }, 0);
  assert.equal(bytes.frame(1500, 0), 500, "500 bytes over: wait half a second, no error");
  assert.equal(bytes.frame(500, 1000), 0, "a second later the debt is repaid and more allowed");
});

Deno.test("every message of a frame counts against the frame limit", () => {
  const limits = new InboundLimits({ framesPerSecond: 10, bytesPerSecond: 0 }, 0);
  limits.frame(100, 0);
  limits.messages(19, 0); // 20 in all: the burst
  assert.throws(() => limits.messages(1, 0), /peer sent messages faster than the limit of 10/);
  const off = new InboundLimits({ framesPerSecond: 0, bytesPerSecond: 0 }, 0);
  off.messages(1e9, 0);
  assert.equal(off.frame(1e12, 0), 0, "limits of 0 are off");
});
