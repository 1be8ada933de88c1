import assert from "node:assert/strict";
import fc from "fast-check";
import { StreamLog, type StreamSummary } from "./stream_log.ts";

type Item = { stream: string; n: number };

Deno.test("a stream log takes each number once, in any order, and sums it up as base and max", () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 200 }), (ns) => {
    const log = new StreamLog<Item>();
    const taken = new Set<number>();
    for (const n of ns) assert.equal(log.add({ stream: "s", n }), !taken.has(n) && !!taken.add(n));
    const [[, base, max]] = ns.length > 0 ? log.summary() : [["s", 0, 0] as StreamSummary];
    let expectedBase = 0;
    while (taken.has(expectedBase + 1)) expectedBase++;
    assert.equal(base, expectedBase);
    assert.equal(max, Math.max(0, ...taken));
    for (let n = 1; n <= 61; n++) assert.equal(log.has("s", n), taken.has(n));
    assert.deepEqual(
      log.missing("s", 1, 61),
      [...Array(61).keys()].map((i) => i + 1).filter((n) => !taken.has(n)),
    );
  }));
});

Deno.test("what a peer lacks: unknown streams whole, known ones above their base, the latest first kept", () => {
  const log = new StreamLog<Item>();
  for (const stream of ["a", "b"]) {
    for (let n = 1; n <= 5; n++) {
      log.add({ stream, n });
      log.keep({ stream, n });
    }
  }
  const lacking = log.lacking([["a", 3, 5]]);
  assert.deepEqual(lacking, [
    { stream: "a", n: 4 },
    { stream: "a", n: 5 },
    ...[1, 2, 3, 4, 5].map((n) => ({ stream: "b", n })),
  ]);
  assert.deepEqual(log.lacking([["a", 3, 5]], 2), [{ stream: "b", n: 4 }, { stream: "b", n: 5 }]);
  assert.deepEqual(log.lacking(log.summary()), []);
});

Deno.test("a stream log stays bounded: messages, streams and holes", () => {
  const log = new StreamLog<Item>({ maxItems: 10, maxStreams: 5, maxGaps: 8 });
  for (let i = 0; i < 100; i++) {
    const item = { stream: `s${i % 7}`, n: i };
    log.add(item);
    log.keep(item);
  }
  assert.equal(log.kept, 10);
  assert.equal(log.streams, 5);
  // Every other number of one stream: holes pile up until the lowest are given up.
  for (let n = 2; n <= 200; n += 2) log.add({ stream: "holes", n });
  const [, base] = log.summary().find(([stream]) => stream === "holes")!;
  assert.ok(base > 150, `base ${base}`);
  assert.ok(log.has("holes", 200));
});
