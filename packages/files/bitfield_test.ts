import assert from "node:assert/strict";
import fc from "fast-check";
import { Bitfield } from "./mod.ts";

Deno.test("a bitfield round-trips through its bytes, with its count", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2000 }),
      fc.array(fc.nat(), { maxLength: 300 }),
      (size, raw) => {
        const field = new Bitfield(size);
        const set = new Set(raw.map((n) => n % size));
        for (const piece of set) field.set(piece);
        const copy = new Bitfield(size, field.bytes);
        assert.equal(copy.count, set.size);
        assert.deepEqual([...copy.pieces()], [...set].sort((a, b) => a - b));
        assert.equal(copy.complete, set.size === size);
      },
    ),
  );
});

Deno.test("a bitfield refuses the wrong length and bits past its end", () => {
  assert.throws(() => new Bitfield(10, new Uint8Array(1)), /10 pieces has 2 bytes/);
  assert.throws(() => new Bitfield(10, new Uint8Array([0, 0x01])), /past its last piece/);
  assert.equal(new Bitfield(10, new Uint8Array([0xff, 0xc0])).count, 10);
  assert.throws(() => new Bitfield(3).set(3), RangeError);
});
