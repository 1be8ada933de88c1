// The source limit on its own: time is passed in, and the pieces that "arrive" come from a model of
// how fast a download goes with k sources in use.
import assert from "node:assert/strict";
import { SourceLimit } from "./source_limit.ts";

/**
 * Runs `limit` for `ms` in steps of 10 ms, with `available` sources sending `rate(k)` pieces a ms
 * when k are in use; returns the number in use at each step.
 */
function drive(
  limit: SourceLimit,
  rate: (k: number, now: number) => number,
  ms: number,
  available = 4,
  start = 0,
): number[] {
  const used: number[] = [];
  let owed = 0;
  for (let now = start; now < start + ms; now += 10) {
    limit.update(now, available);
    const k = limit.of(available);
    used.push(k);
    owed += rate(k, now) * 10;
    const whole = Math.floor(owed);
    limit.arrived(whole);
    owed -= whole;
  }
  return used;
}

/** How many steps of `used` had `k` sources in use. */
const count = (used: number[], k: number) => used.filter((n) => n === k).length;

Deno.test("every source is in use to begin with, and new ones join while that holds", () => {
  const limit = new SourceLimit();
  assert.equal(limit.of(4), 4);
  assert.equal(limit.of(7), 7);
  assert.equal(limit.of(0), 1, "at least one, for the first to come");
});

Deno.test("where more sources make it slower (the local CPU is the limit), it settles on one", () => {
  const limit = new SourceLimit();
  // 1 source: 0.9 pieces a ms; each more costs 7%.
  const used = drive(limit, (k) => 0.9 * (1 - 0.07 * (k - 1)), 10_000);
  assert.equal(used[0], 4);
  assert.equal(used.at(-1), 1);
  // Once settled, tries of two are rarer and rarer: each that loses waits twice as long for the
  // next, and lasts two periods (the first is not judged).
  const settled = used.slice(100);
  assert.ok(count(settled, 1) / settled.length > 0.85, `one source ${count(settled, 1)}`);
  assert.equal(count(settled, 4), 0);
});

Deno.test("where each source is slow (the sources are the limit), every one stays in use", () => {
  const limit = new SourceLimit();
  const used = drive(limit, (k) => 0.05 * k, 30_000);
  assert.ok(count(used, 4) / used.length > 0.9, `all four ${count(used, 4)} of ${used.length}`);
  // Fewer are tried now and then, for a period, and dropped.
  assert.equal(count(used, 1), 0);
  // At most one try, of two periods, in the last 3 s.
  assert.ok(used.slice(-300).filter((k) => k === 4).length >= 270);
});

Deno.test("a wrong turn is undone: fewer kept through a disturbance come back when more help", () => {
  const limit = new SourceLimit();
  // The sources are the limit, but for the first 300 ms nothing gets through however many are
  // asked (the machine is busy elsewhere): a rate of 0 with 4 sources, then rising.
  const rate = (k: number, now: number) => now < 300 ? 0 : 0.05 * k;
  const used = drive(limit, rate, 20_000);
  assert.ok(used.slice(0, 100).includes(1), "one source was kept while none got through");
  assert.ok(count(used.slice(-1000), 4) > 950, "then all four again");
});

Deno.test("a try far slower than the rate before is measured again before it is judged", () => {
  const limit = new SourceLimit({ periodMs: 100, minPieces: 1 });
  limit.update(0, 4);
  limit.arrived(50);
  limit.update(100, 4); // 4 sources: 0.5 a ms; try 2
  assert.equal(limit.of(4), 2);
  limit.arrived(50);
  limit.update(200, 4); // the try's first period, not judged
  assert.equal(limit.of(4), 2);
  limit.arrived(5);
  limit.update(300, 4); // a tenth: something else took the machine; 2 are tried again
  assert.equal(limit.of(4), 2);
  limit.arrived(52);
  limit.update(400, 4); // as fast as 4: kept, and 1 is tried
  assert.equal(limit.of(4), 1);
});

Deno.test("a try is judged on its second period: what was asked before it does not count", () => {
  const limit = new SourceLimit({ periodMs: 100, minPieces: 1 });
  limit.update(0, 4);
  limit.arrived(40);
  limit.update(100, 4); // 4 sources: 0.4 a ms; try 2
  assert.equal(limit.of(4), 2);
  // The pieces the other two were asked before the try still come: as fast as before.
  limit.arrived(40);
  limit.update(200, 4);
  assert.equal(limit.of(4), 2, "not judged yet");
  limit.arrived(20); // then the two alone: half as fast
  limit.update(300, 4);
  assert.equal(limit.of(4), 4, "dropped: all four again");
});

Deno.test("more sources are kept only if clearly faster than the best recent rate", () => {
  const limit = new SourceLimit({ periodMs: 100, minPieces: 1 });
  limit.update(0, 2);
  limit.arrived(100);
  limit.update(100, 2); // 2 sources: 1 a ms; try 1
  limit.arrived(100);
  limit.update(200, 2); // the try's first period, not judged
  limit.arrived(100);
  limit.update(300, 2); // as fast: 1 it is
  assert.equal(limit.of(2), 1);
  for (const [t, pieces] of [[400, 100], [500, 40]]) {
    limit.arrived(pieces);
    limit.update(t, 2); // a good period, then a poor one (a disturbance)
  }
  assert.equal(limit.of(2), 2, "after two settled periods, 2 are tried");
  limit.arrived(80);
  limit.update(600, 2); // not judged
  limit.arrived(80);
  limit.update(700, 2); // twice the poor period, but slower than the good one: dropped
  assert.equal(limit.of(2), 1);
});

Deno.test("when nothing arrives from the sources in use, more are tried at once", () => {
  const limit = new SourceLimit({ periodMs: 100, minPieces: 1, maxPeriodMs: 1000 });
  // As fast with one source as with more, until the one in use stalls at 2 s.
  const used = drive(limit, (k, now) => (now < 2000 || k > 1 ? 0.5 : 0), 3200);
  assert.ok(count(used.slice(100, 200), 1) > 50, "mostly one source, while it was as fast");
  // The stalled period lasts its longest (1 s: nothing counted), then more are tried, and kept.
  assert.ok(used.slice(-10).every((k) => k >= 2), `${used.slice(-10)}`);
});

Deno.test("slow sources: a period lasts until it has counted enough pieces, or for its longest", () => {
  const limit = new SourceLimit({ periodMs: 100, minPieces: 8, maxPeriodMs: 2000 });
  limit.update(0, 4);
  limit.arrived(7);
  assert.equal(limit.update(1000, 4), 0, "7 pieces are too few to judge");
  limit.arrived(1);
  assert.equal(limit.update(1100, 4), 1100);
  assert.equal(limit.update(3100, 4), 2000, "nothing at all, but the period has run its longest");
});

Deno.test("settled on one, it rises again when more sources become clearly faster", () => {
  const limit = new SourceLimit();
  // The local CPU is the limit for 5 s (one source is fastest), then the sources are (say the
  // downloader's machine got quiet, and each holder sends 0.3 pieces a ms, whatever it does).
  const rate = (k: number, now: number) => now < 5000 ? 0.9 * (1 - 0.07 * (k - 1)) : 0.3 * k;
  const used = drive(limit, rate, 30_000);
  assert.equal(used[499], 1, "one source at 5 s");
  assert.ok(count(used.slice(-500), 4) > 450, `then all four: ${count(used.slice(-500), 4)}`);
});
