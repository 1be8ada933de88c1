import assert from "node:assert/strict";
import { SeenCache } from "./seen_cache.ts";

Deno.test("SeenCache refuses a repeated id", () => {
  const seen = new SeenCache(1000, 10);
  assert.equal(seen.add("a", 0), true);
  assert.equal(seen.add("b", 1), true);
  assert.equal(seen.add("a", 2), false);
  assert.equal(seen.add("b", 3), false);
  assert.equal(seen.add("a", 999), false);
  assert.equal(seen.size, 2);
});

Deno.test("SeenCache forgets ids after their ttl", () => {
  const seen = new SeenCache(100, 10);
  assert.equal(seen.add("a", 0), true);
  assert.equal(seen.add("b", 50), true);
  assert.equal(seen.add("a", 99), false, "still remembered just before the ttl");
  assert.equal(seen.add("a", 100), true, "forgotten at the ttl, counted from first sight");
  assert.equal(seen.add("a", 150), false, "remembered again from its second sight");
  assert.equal(seen.add("b", 149), false);
  assert.equal(seen.add("b", 150), true);
  // Expired ids are dropped as new ones come in.
  assert.equal(seen.add("c", 10_000), true);
  assert.equal(seen.size, 1);
  assert.equal(seen.add("a", 10_001), true);
  assert.equal(seen.add("c", 10_002), false);
});

Deno.test("SeenCache never holds more than max ids, and drops the oldest first", () => {
  const seen = new SeenCache(60_000, 3);
  for (let i = 0; i < 20; i++) {
    assert.equal(seen.add(`id${i}`, i), true);
    assert.ok(seen.size <= 3, `size ${seen.size} after ${i + 1} ids`);
  }
  assert.equal(seen.size, 3);
  assert.equal(seen.add("id19", 100), false);
  assert.equal(seen.add("id18", 100), false);
  assert.equal(seen.add("id17", 100), false);
  assert.equal(seen.add("id16", 100), true, "the oldest were evicted");
  assert.equal(seen.size, 3);
});
