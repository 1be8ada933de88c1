import assert from "node:assert/strict";
import fc from "fast-check";
import { loadBlake3 } from "./blake3.ts";
import { toHex } from "./bytes.ts";

Deno.test("both BLAKE3 paths give the same digests, of any size, in shared memory too", async () => {
  const fast = await loadBlake3();
  const wasm = await loadBlake3("wasm");
  assert.equal(wasm.kind, "wasm");
  const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  if (ffi) {
    assert.equal(fast.kind, "native", "the addon loads wherever --allow-ffi is granted here");
  }
  // The BLAKE3 reference vector: the empty input.
  assert.equal(
    toHex(fast.digest(new Uint8Array(0))),
    "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: (1 << 20) + 4097 }),
      fc.integer({ min: 0, max: 7 }),
      (size, pad) => {
        const shared = new Uint8Array(new SharedArrayBuffer(size + pad + 8)).subarray(
          pad,
          pad + size,
        );
        const random = new Uint8Array(Math.min(size, 65536));
        crypto.getRandomValues(random);
        for (let at = 0; at < size; at += random.length) {
          shared.set(random.subarray(0, size - at), at);
        }
        shared[size - 1] ^= pad; // a last byte that differs per run
        assert.deepEqual(fast.digest(shared), wasm.digest(shared.slice()));
      },
    ),
    { numRuns: 40 },
  );
});
