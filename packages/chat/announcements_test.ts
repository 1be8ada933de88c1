import assert from "node:assert/strict";
import { MAX_ANNOUNCED_STREAMS, MAX_RUNS, PendingAnnouncements } from "./announcements.ts";

Deno.test("messages in order make one run; a gap starts another; each peer has its own list", () => {
  const pending = new PendingAnnouncements();
  for (const n of [4, 5, 6, 9, 10]) pending.note("b", { stream: "s", n });
  pending.note("c", { stream: "s", n: 4 });
  assert.deepEqual(pending.peers().sort(), ["b", "c"]);
  assert.deepEqual(pending.take("b"), [["s", [[4, 6], [9, 10]]]]);
  assert.equal(pending.take("b"), null, "taken");
  pending.drop("c");
  assert.deepEqual(pending.peers(), []);
});

Deno.test("a list at the wire's bounds is handed out whole, and the new item starts the next", () => {
  const pending = new PendingAnnouncements();
  for (let i = 0; i < MAX_RUNS; i++) {
    assert.equal(pending.note("b", { stream: "s", n: 2 * i + 1 }), null);
  }
  const full = pending.note("b", { stream: "s", n: 1000 })!;
  assert.equal(full[0][1].length, MAX_RUNS);
  assert.deepEqual(pending.take("b"), [["s", [[1000, 1000]]]]);
  for (let i = 0; i < MAX_ANNOUNCED_STREAMS; i++) pending.note("b", { stream: `s${i}`, n: 1 });
  assert.equal(pending.note("b", { stream: "one more", n: 1 })!.length, MAX_ANNOUNCED_STREAMS);
  assert.deepEqual(pending.take("b"), [["one more", [[1, 1]]]]);
});
