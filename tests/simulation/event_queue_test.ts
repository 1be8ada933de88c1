import assert from "node:assert/strict";
import { EventQueue } from "./event_queue.ts";
import { SeededRandom } from "./random.ts";

Deno.test("events come out in order of time, and in the order put in at the same time", () => {
  const queue = new EventQueue();
  const random = new SeededRandom(1);
  const put: [number, number][] = [];
  // Enough to grow the arrays several times, with many ties.
  for (let i = 0; i < 10_000; i++) {
    const time = random.int(500);
    put.push([time, i]);
    queue.push(time, 0, i, 0, 0, null);
  }
  put.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: [number, number][] = [];
  while (queue.pop()) out.push([queue.time, queue.a]);
  assert.deepEqual(out, put);
  assert.equal(queue.size, 0);
  assert.equal(queue.pop(), false);
});

Deno.test("events put in while others are taken out keep the order", () => {
  const queue = new EventQueue();
  queue.push(5, 1, 0, 0, 0, "a");
  queue.push(1, 2, 7, 8, 9, "b");
  assert.equal(queue.peekTime(), 1);
  assert.ok(queue.pop());
  assert.deepEqual([queue.time, queue.kind, queue.a, queue.b, queue.c, queue.payload], [
    1,
    2,
    7,
    8,
    9,
    "b",
  ]);
  queue.push(3, 3, 0, 0, 0, "c");
  queue.push(5, 4, 0, 0, 0, "d");
  const rest: unknown[] = [];
  while (queue.pop()) rest.push(queue.payload);
  assert.deepEqual(rest, ["c", "a", "d"]);
  assert.equal(queue.peekTime(), Infinity);
});
