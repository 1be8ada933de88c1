import assert from "node:assert/strict";
import type { FileRange } from "@meshtalk/core";
import { Pacer, Uploader } from "./uploader.ts";
import { REFUSED_BUSY, REFUSED_MISSING } from "./wire.ts";

const PIECE = 16384;

/**
 * An uploader of file "f" (pieces 0 to 9 here), whose sends wait until the test lets them go:
 * `sent` lists `peer:piece` as each send begins.
 */
function harness(options: { maxQueue?: number; failFor?: string } = {}) {
  const here = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const sent: string[] = [];
  const waiting: (() => void)[] = [];
  /** Upload flows as told, `type peer file bytes seconds reason`. */
  const flows: string[] = [];
  /** The uploader's clock, set by the test. */
  const clock = { now: 0 };
  const uploader = new Uploader({
    maxQueue: options.maxQueue,
    now: () => clock.now,
    onFlow: (e) =>
      flows.push([e.type, e.peer, e.file, e.bytes, e.seconds, e.reason ?? ""].join(" ").trim()),
    locate: (file, piece): FileRange | null =>
      file === "f" && here.has(piece)
        ? { path: "f.bin", offset: piece * PIECE, length: PIECE }
        : null,
    send: (peer, _file, range) => {
      sent.push(`${peer}:${range.offset / PIECE}`);
      if (peer === options.failFor) return Promise.reject(new Error("gone"));
      return new Promise((resolve) => waiting.push(() => resolve()));
    },
  });
  /** Lets every send in progress finish, and the next ones begin. */
  const release = async () => {
    while (waiting.length > 0) {
      waiting.splice(0).forEach((resolve) => resolve());
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  };
  return { uploader, sent, here, release, flows, clock };
}

Deno.test("each peer's requests are served one at a time, in the order they came", async () => {
  const { uploader, sent, release } = harness();
  for (const piece of [3, 1, 2]) assert.equal(uploader.request("a", "f", piece), null);
  assert.equal(uploader.request("b", "f", 9), null);
  assert.deepEqual(sent, ["a:3", "b:9"], "one send at a time per peer, peers side by side");
  assert.equal(uploader.waiting("a"), 2);
  await release();
  await uploader.idle();
  assert.deepEqual(sent, ["a:3", "b:9", "a:1", "a:2"]);
  assert.equal(uploader.waiting("a"), 0);
});

Deno.test("a piece not here is refused as missing; past the queue's bound, as busy", async () => {
  const { uploader, sent, release } = harness({ maxQueue: 2 });
  assert.equal(uploader.request("a", "f", 10), REFUSED_MISSING);
  assert.equal(uploader.request("a", "other", 0), REFUSED_MISSING);
  assert.equal(uploader.request("a", "f", 0), null); // being sent: no longer waiting
  assert.equal(uploader.request("a", "f", 1), null);
  assert.equal(uploader.request("a", "f", 2), null);
  assert.equal(uploader.request("a", "f", 3), REFUSED_BUSY);
  assert.equal(uploader.request("b", "f", 3), null, "the bound is per peer");
  await release();
  await uploader.idle();
  assert.deepEqual(sent.filter((s) => s.startsWith("a")), ["a:0", "a:1", "a:2"]);
});

Deno.test("a cancelled request is not sent; one whose piece went is skipped", async () => {
  const { uploader, sent, here, release } = harness();
  for (const piece of [0, 1, 2, 3]) uploader.request("a", "f", piece);
  uploader.cancel("a", "f", 2);
  uploader.cancel("a", "f", 0); // being sent already: it goes
  here.delete(3);
  await release();
  await uploader.idle();
  assert.deepEqual(sent, ["a:0", "a:1"]);
});

Deno.test("a peer whose send fails, or that left, loses its queue; the others are served", async () => {
  const { uploader, sent, release } = harness({ failFor: "gone" });
  for (const piece of [0, 1, 2]) uploader.request("gone", "f", piece);
  for (const piece of [0, 1, 2]) uploader.request("left", "f", piece);
  uploader.request("stays", "f", 5);
  uploader.drop("left");
  await release();
  await uploader.idle();
  assert.deepEqual(sent, ["gone:0", "left:0", "stays:5"]);
  assert.equal(uploader.waiting("gone"), 0);
  assert.equal(uploader.waiting("left"), 0);
});

Deno.test("after close nothing more is sent", async () => {
  const { uploader, sent, release } = harness();
  for (const piece of [0, 1]) uploader.request("a", "f", piece);
  uploader.close();
  await release();
  await uploader.idle();
  assert.deepEqual(sent, ["a:0"]);
});

Deno.test("the pacer holds all sends together to one rate, and lets an idle link start at once", () => {
  const pacer = new Pacer(1000); // bytes per second
  assert.equal(pacer.delay(500, 0), 0, "the first send goes at once");
  assert.equal(pacer.delay(500, 0), 500, "the next waits for the first's time");
  assert.equal(pacer.delay(1000, 100), 900);
  // Long idle: no credit is saved up beyond now, and no debt remains.
  assert.equal(pacer.delay(1000, 10_000), 0);
  assert.equal(new Pacer(0).delay(10 ** 9, 0), 0, "0 means no limit");
});

Deno.test("an upload flow starts with the first piece sent, and stops 2 s after the last", async () => {
  const { uploader, release, flows, clock } = harness();
  for (const piece of [0, 1]) uploader.request("bob", "f", piece);
  assert.deepEqual(flows, ["start bob f 0 0"], "said as the first piece goes");
  clock.now = 1000;
  await release();
  await uploader.idle();
  clock.now = 2999;
  uploader.sweep();
  assert.equal(flows.length, 1, "not idle for 2 s yet");
  // More is asked for: the same flow goes on.
  uploader.request("bob", "f", 2);
  clock.now = 3000;
  await release();
  await uploader.idle();
  clock.now = 4999;
  uploader.sweep();
  assert.equal(flows.length, 1);
  clock.now = 5000;
  uploader.sweep();
  assert.deepEqual(flows, ["start bob f 0 0", `stop bob f ${3 * PIECE} 3 idle`]);
  uploader.sweep();
  assert.equal(flows.length, 2, "stopped once");
});

Deno.test("upload flows are per peer and file; a peer that leaves or fails stops its flows", async () => {
  const { uploader, release, flows, clock } = harness({ failFor: "gone" });
  uploader.request("ada", "f", 0);
  uploader.request("gone", "f", 1);
  clock.now = 500;
  await release();
  await uploader.idle();
  assert.deepEqual(flows, [
    "start ada f 0 0",
    "start gone f 0 0",
    "stop gone f 0 0 left",
  ]);
  uploader.drop("ada");
  assert.equal(flows.at(-1), `stop ada f ${PIECE} 0.5 left`);
  uploader.request("bob", "f", 3);
  uploader.close();
  assert.equal(flows.at(-1), "stop bob f 0 0 closed", "a send under way when it closed");
});
