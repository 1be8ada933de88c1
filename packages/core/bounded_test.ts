import assert from "node:assert/strict";
import { BoundedMap, BoundedSet } from "./bounded.ts";

Deno.test("a bounded map drops its oldest entry for a new key, never for an old one", () => {
  const map = new BoundedMap<string, number>(3);
  map.set("a", 1).set("b", 2).set("c", 3);
  map.set("a", 10); // already there: nothing goes
  assert.deepEqual([...map], [["a", 10], ["b", 2], ["c", 3]]);
  map.set("d", 4);
  assert.deepEqual([...map.keys()], ["b", "c", "d"]);
  assert.equal(map.touch("b"), true);
  map.set("e", 5);
  assert.deepEqual([...map.keys()], ["d", "b", "e"]);
  assert.equal(map.touch("zz"), false);
});

Deno.test("a bounded set never holds more than its max, whatever is added", () => {
  const set = new BoundedSet<number>(100);
  for (let i = 0; i < 10_000; i++) set.add(i % 7_000);
  assert.equal(set.size, 100);
  assert.ok(set.has(9_999 % 7_000));
  assert.throws(() => new BoundedSet(0), RangeError);
});
