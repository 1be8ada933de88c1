import assert from "node:assert/strict";
import { Strikes } from "./strikes.ts";

Deno.test("a peer is dropped at its third bad piece, and only that peer", () => {
  const strikes = new Strikes(3);
  assert.deepEqual([strikes.strike("liar"), strikes.strike("liar")], [1, 2]);
  assert.equal(strikes.isDropped("liar"), false);
  assert.equal(strikes.strike("other"), 1);
  assert.equal(strikes.strike("liar"), 3);
  assert.equal(strikes.isDropped("liar"), true);
  assert.equal(strikes.isDropped("other"), false);
  assert.equal(strikes.isDropped("stranger"), false);
});
