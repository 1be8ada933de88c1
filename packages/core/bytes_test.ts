import assert from "node:assert/strict";
import { bytesEqual, concatBytes, fromHex, startsWithBytes, toHex } from "./bytes.ts";
import fc from "fast-check";

Deno.test("hex round-trips any bytes, lowercase, two digits a byte", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    const hex = toHex(bytes);
    assert.deepEqual(hex.length, bytes.length * 2);
    assert.deepEqual(hex, hex.toLowerCase());
    assert.deepEqual(fromHex(hex), bytes);
  }));
});

Deno.test("fromHex refuses odd lengths, upper case and other characters", () => {
  for (const bad of ["a", "0A", "zz", "0x00", " 00"]) {
    assert.throws(() => fromHex(bad), SyntaxError);
  }
});

Deno.test("bytesEqual tells equal bytes from any difference, length included", () => {
  assert.deepEqual(bytesEqual(new Uint8Array(0), new Uint8Array(0)), true);
  assert.deepEqual(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  assert.deepEqual(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
  assert.deepEqual(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])), false);
});

Deno.test("concatBytes and startsWithBytes", () => {
  const joined = concatBytes(new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3]));
  assert.deepEqual(joined, new Uint8Array([1, 2, 3]));
  assert.deepEqual(startsWithBytes(joined, new Uint8Array([1, 2])), true);
  assert.deepEqual(startsWithBytes(joined, new Uint8Array([2])), false);
  assert.deepEqual(startsWithBytes(new Uint8Array([1]), new Uint8Array([1, 2])), false);
});
