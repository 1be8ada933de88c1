import assert from "node:assert/strict";
import { SeededRandom } from "./random.ts";

Deno.test("the same seed gives the same numbers, another seed others", () => {
  const draw = (seed: number) => {
    const random = new SeededRandom(seed);
    return Array.from({ length: 5 }, () => random.next());
  };
  assert.deepEqual(draw(1), draw(1));
  assert.notDeepEqual(draw(1), draw(2));
});

Deno.test("numbers are in range and spread over it", () => {
  const random = new SeededRandom(3);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 10_000; i++) {
    const x = random.next();
    assert.ok(x >= 0 && x < 1);
    buckets[Math.floor(x * 10)]++;
  }
  for (const count of buckets) assert.ok(count > 800 && count < 1200, `${buckets}`);
  const ints = new Set(Array.from({ length: 1000 }, () => random.int(6)));
  assert.deepEqual([...ints].sort(), [0, 1, 2, 3, 4, 5]);
});

Deno.test("a sample holds different items of the list, no more than asked", () => {
  const random = new SeededRandom(4);
  const items = Array.from({ length: 50 }, (_, i) => i);
  const sample = random.sample(items, 10);
  assert.equal(sample.length, 10);
  assert.equal(new Set(sample).size, 10);
  assert.ok(sample.every((x) => items.includes(x)));
  assert.equal(random.sample(items.slice(0, 3), 10).length, 3);
});
