import assert from "node:assert/strict";
import { LamportClock } from "./clock.ts";

Deno.test("a clock counts lines written, and moves past every line of a say seen", () => {
  const clock = new LamportClock();
  assert.equal(clock.now, 0);
  assert.equal(clock.tick(), 1);
  assert.equal(clock.tick(), 2);
  clock.witness({ clock: 5, lines: ["a", "b", "c"] }); // lines 5, 6 and 7
  assert.equal(clock.now, 8);
  clock.witness({ clock: 1, lines: ["old"] }); // behind: still moves on by one
  assert.equal(clock.now, 9);
  assert.equal(clock.tick(), 10);
});
