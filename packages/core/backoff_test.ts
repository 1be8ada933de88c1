import assert from "node:assert/strict";
import { Backoff, delayAfter } from "./backoff.ts";

Deno.test("backoff doubles from its base to its cap, and a success starts it over", () => {
  const backoff = new Backoff({ baseMs: 100, maxMs: 500, jitter: 0 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => backoff.fail()), [100, 200, 400, 500, 500]);
  assert.equal(backoff.failures, 5);
  backoff.succeed();
  assert.equal(backoff.fail(), 100);
});

Deno.test("jitter spreads each delay within its bounds, never past the cap's spread", () => {
  for (let i = 0; i < 1000; i++) {
    const delay = delayAfter(1 + (i % 12), 500, 60_000, 0.25);
    const plain = Math.min(60_000, 500 * 2 ** (i % 12));
    assert.ok(delay >= plain * 0.75 && delay <= plain * 1.25, `${delay} vs ${plain}`);
  }
});
