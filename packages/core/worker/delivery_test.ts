import assert from "node:assert/strict";
import type { Message } from "../messages.ts";
import { MAX_BATCHES_IN_FLIGHT, Slot } from "../worker_protocol.ts";
import { Delivery } from "./delivery.ts";
import { withLoopAlive } from "../_loop_alive.ts";

function delivery() {
  const control = new Int32Array(new SharedArrayBuffer(16));
  const posted: { messages: Message[]; transfer: Transferable[] }[] = [];
  const failures: unknown[] = [];
  const out = new Delivery({
    control,
    post: (messages, transfer) => posted.push({ messages, transfer }),
    stopped: () => false,
    failed: (error) => failures.push(error),
  });
  /** What the main thread does once it has dispatched a batch. */
  const dispatched = () => {
    Atomics.add(control, Slot.batchesDone, 1);
    Atomics.notify(control, Slot.batchesDone);
  };
  return { delivery: out, posted, failures, dispatched };
}

const ping = (n: number): Message => ({ t: "ping", n });

Deno.test("batches are posted in order, each once what it waits for is done", async () => {
  const { delivery: d, posted } = delivery();
  const write = Promise.withResolvers<void>();
  d.push(ping(1));
  d.after(write.promise); // e.g. a piece being hashed
  d.flush();
  d.push(ping(2));
  const second = d.flush();
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(posted.length, 0, "the second batch waits behind the first");
  write.resolve();
  await second;
  assert.deepEqual(posted.map((p) => p.messages), [[ping(1)], [ping(2)]]);
  await d.flush(); // nothing collected: nothing posted
  assert.equal(posted.length, 2);
});

Deno.test("no more batches are posted than the main thread has room for", () =>
  withLoopAlive(async () => {
    const { delivery: d, posted, dispatched } = delivery();
    let last: Promise<void> = Promise.resolve();
    for (let i = 0; i <= MAX_BATCHES_IN_FLIGHT; i++) {
      d.push(ping(i));
      last = d.flush();
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(posted.length, MAX_BATCHES_IN_FLIGHT);
    dispatched();
    await last;
    assert.equal(posted.length, MAX_BATCHES_IN_FLIGHT + 1);
  }));

Deno.test("room() waits while too many batches wait to be posted", () =>
  withLoopAlive(async () => {
    const { delivery: d, dispatched } = delivery();
    const hold = Promise.withResolvers<void>();
    for (let i = 0; i < 8; i++) {
      d.push(ping(i));
      d.after(hold.promise);
      d.flush();
    }
    let roomy = false;
    const room = d.room().then(() => roomy = true);
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(roomy, false);
    hold.resolve();
    dispatched();
    await room;
  }));

Deno.test("large binary fields are moved to the main thread, not copied; a failed wait is reported", async () => {
  const { delivery: d, posted, failures } = delivery();
  const large = new Uint8Array(4096);
  const small = new Uint8Array(10);
  d.push({ t: "app", app: "a", body: { large, nested: [{ small }] } });
  await d.flush();
  assert.deepEqual(posted[0].transfer, [large.buffer]);

  d.push(ping(1));
  d.after(Promise.reject(new Error("disk full")));
  await d.flush();
  assert.match(String(failures[0]), /disk full/);
});
