import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteRing, copyInto } from "./ring.ts";
import { withLoopAlive } from "./_loop_alive.ts";

Deno.test("bytes come out of the ring in order across many wrap-arounds", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(100), fc.nat(100)), { maxLength: 200 }), (steps) => {
      const ring = ByteRing.create(64);
      let written = 0;
      let read = 0;
      for (const [toWrite, toRead] of steps) {
        const bytes = Uint8Array.from({ length: toWrite }, (_, i) => (written + i) & 0xff);
        const taken = ring.write(bytes);
        assert.equal(taken, Math.min(toWrite, 64 - (written - read)));
        written += taken;
        let left = toRead;
        while (left > 0) {
          const view = ring.readable();
          if (view.length === 0) break;
          const n = Math.min(left, view.length);
          for (let i = 0; i < n; i++) assert.equal(view[i], (read + i) & 0xff);
          ring.release(n);
          read += n;
          left -= n;
        }
        assert.equal(ring.used, written - read);
      }
    }),
  );
});

Deno.test("a waiting consumer wakes on data and on close", () =>
  withLoopAlive(async () => {
    const ring = ByteRing.create(16);
    const waiting = ring.waitReadable();
    ring.write(new Uint8Array([7]));
    ring.wake();
    await waiting;
    assert.deepEqual([...ring.readable()], [7]);
    ring.release(1);
    const ended = ring.waitReadable();
    ring.closeProducer();
    await ended;
    assert.ok(ring.producerDone);
  }));

Deno.test("a full ring makes the producer wait until the consumer releases", () =>
  withLoopAlive(async () => {
    const ring = ByteRing.create(16);
    assert.equal(ring.write(new Uint8Array(20)), 16);
    let woke = false;
    const waiting = ring.waitWritable().then(() => woke = true);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(woke, false);
    ring.release(4);
    await waiting;
    assert.equal(ring.free, 4);
  }));

Deno.test("ring capacity must be a power of two", () => {
  assert.throws(() => ByteRing.create(100), RangeError);
});

Deno.test("a close racing a waiter on another thread always wakes it", async () => {
  // The other side's close lands at varying moments around the waiter's check-then-wait; a
  // close between the two must not be lost (it once was: the wait was on a position word the
  // close did not change).
  const worker = new Worker(new URL("./_ring_race_worker.ts", import.meta.url), { type: "module" });
  const go = new Int32Array(new SharedArrayBuffer(4));
  const ready = Promise.withResolvers<void>();
  const woken = new Set<number>();
  worker.onmessage = (event) => event.data === "ready" ? ready.resolve() : woken.add(event.data);
  worker.postMessage({ go: go.buffer });
  await ready.promise; // a worker that starts late must not see a trial it already missed
  const lost: number[] = [];
  try {
    for (let trial = 1; trial <= 400; trial++) {
      const side = trial % 2 ? "consumer" : "producer";
      const ring = ByteRing.create(16);
      if (side === "producer") ring.write(new Uint8Array(16)); // full: the worker waits to write
      worker.postMessage({ trial, buffer: ring.buffer, side });
      await new Promise((r) => setTimeout(r, 0));
      Atomics.store(go, 0, trial);
      for (let i = 0; i < trial % 200; i++) Atomics.load(go, 0);
      if (side === "consumer") ring.closeProducer();
      else ring.closeConsumer();
      const deadline = performance.now() + 200;
      while (!woken.has(trial) && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 0));
      }
      if (!woken.has(trial)) lost.push(trial);
    }
    // A loaded machine may run the worker late: what was not seen in time gets a long while
    // more, so only a wake-up that never comes fails the test.
    const deadline = performance.now() + 20_000;
    while (lost.some((trial) => !woken.has(trial)) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(lost.filter((trial) => !woken.has(trial)), [], "every wait woke");
  } finally {
    worker.terminate();
  }
});

Deno.test("copyInto copies whole at any alignment, into shared or ordinary memory", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 20_000 }),
      fc.nat(7),
      fc.nat(7),
      fc.boolean(),
      (length, from, to, shared) => {
        const source = new Uint8Array(length + 8).subarray(from, from + length);
        for (let i = 0; i < length; i++) source[i] = i * 7;
        const memory = shared ? new SharedArrayBuffer(length + 16) : new ArrayBuffer(length + 16);
        const target = new Uint8Array(memory).subarray(to);
        copyInto(target, source);
        assert.deepEqual(new Uint8Array(target.subarray(0, length)), new Uint8Array(source));
        assert.ok(target.subarray(length).every((b) => b === 0), "nothing past the end");
      },
    ),
    { numRuns: 200 },
  );
  // Longer than the staging buffer: staged in parts.
  const big = new Uint8Array(3 * 2 ** 20 + 5).map((_, i) => i % 251);
  const target = new Uint8Array(new SharedArrayBuffer(big.length + 8)).subarray(3, 3 + big.length);
  copyInto(target, big.subarray(0));
  assert.ok(target.every((b, i) => b === i % 251));
});
