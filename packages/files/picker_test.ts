import assert from "node:assert/strict";
import fc from "fast-check";
import { Bitfield } from "./bitfield.ts";
import { ENDGAME_REQUESTERS, pickPiece } from "./picker.ts";

Deno.test("the picker asks for the rarest piece, then only in the endgame for pieces in flight", () => {
  const have = new Bitfield(4);
  const theirs = Bitfield.full(4);
  const requested = new Map<number, Set<string>>();
  const availability = new Uint16Array([3, 1, 2, 3]);
  const state = { have, requested, availability };
  assert.equal(pickPiece(state, "p", theirs, 0), 1);
  requested.set(1, new Set(["q"]));
  assert.equal(pickPiece(state, "p", theirs, 0), 2);
  have.set(2);
  have.set(0);
  requested.set(3, new Set(["q"]));
  // 1 and 3 are missing and both asked of q: the endgame asks p too.
  const piece = pickPiece(state, "p", theirs, 0);
  assert.ok(piece === 1 || piece === 3);
  requested.get(piece!)!.add("p");
  const other = pickPiece(state, "p", theirs, 0);
  assert.equal(other, piece === 1 ? 3 : 1);
  requested.get(other!)!.add("p");
  assert.equal(pickPiece(state, "p", theirs, 0), null, "nothing left to ask p for");
  requested.set(1, new Set(Array.from({ length: ENDGAME_REQUESTERS }, (_, i) => `x${i}`)));
  requested.set(3, new Set(Array.from({ length: ENDGAME_REQUESTERS }, (_, i) => `x${i}`)));
  assert.equal(pickPiece(state, "r", theirs, 0), null, "no piece is asked of more than 3");
});

Deno.test("the picker never picks a piece we have or the peer lacks", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 200 }),
      fc.array(fc.nat(), { maxLength: 100 }),
      fc.array(fc.nat(), { maxLength: 100 }),
      fc.double({ min: 0, max: 0.999, noNaN: true }),
      (size, haveRaw, theirsRaw, random) => {
        const have = new Bitfield(size);
        for (const n of haveRaw) have.set(n % size);
        const theirs = new Bitfield(size);
        for (const n of theirsRaw) theirs.set(n % size);
        const state = { have, requested: new Map(), availability: new Uint16Array(size).fill(1) };
        const piece = pickPiece(state, "p", theirs, random);
        const useful = [...theirs.pieces()].filter((p) => !have.has(p));
        if (useful.length === 0) assert.equal(piece, null);
        else assert.ok(piece !== null && useful.includes(piece));
      },
    ),
  );
});
