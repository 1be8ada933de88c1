import assert from "node:assert/strict";
import { blake3 } from "../hash_pool.ts";
import { HashPool } from "../hash_pool.ts";
import type { StoredData } from "../messages.ts";
import { MAX_VERIFYING, PieceVerifier } from "./piece_verifier.ts";

const PIECE = 1024;

Deno.test("pieces are written by hash workers only when their hash matches", async () => {
  const dir = await Deno.makeTempDir();
  const pool = new HashPool(2);
  const link = pool.link();
  const verifier = new PieceVerifier();
  verifier.useHashers(link.ports);
  try {
    const file = crypto.getRandomValues(new Uint8Array(3 * PIECE + 10));
    const hashes = new Uint8Array(4 * 32);
    for (let i = 0; i < 4; i++) {
      hashes.set(await blake3(file.subarray(i * PIECE, (i + 1) * PIECE)), i * 32);
    }
    const path = `${dir}/copy`;
    await Deno.writeFile(path, new Uint8Array(file.length));
    const verify = { pieceSize: PIECE, hashes };
    const at = (offset: number): StoredData => ({ path, offset, length: 0, status: "written" });
    const good = [3, 0, 1].map((i) => at(i * PIECE));
    const bad = at(2 * PIECE);
    const settled = [
      ...good.map((stored) =>
        verifier.verify(
          stored,
          file.length,
          verify,
          file.subarray(stored.offset, stored.offset + PIECE),
        )
      ),
      verifier.verify(bad, file.length, verify, new Uint8Array(PIECE)),
    ];
    assert.ok(verifier.verifying <= 4 && verifier.verifying > 0, "handed out, not yet answered");
    await Promise.all(settled);
    assert.deepEqual(good.map((s) => s.status), ["written", "written", "written"]);
    assert.equal(bad.status, "corrupt");
    assert.match(bad.reason!, /hash does not match/);
    const copy = await Deno.readFile(path);
    assert.deepEqual(copy.subarray(0, 2 * PIECE), file.subarray(0, 2 * PIECE));
    assert.deepEqual(copy.subarray(2 * PIECE, 3 * PIECE), new Uint8Array(PIECE), "never written");
    assert.deepEqual(copy.subarray(3 * PIECE), file.subarray(3 * PIECE));
    assert.equal(verifier.verifying, 0);
    await verifier.room(); // there is room: returns at once
  } finally {
    verifier.close();
    link.release();
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a piece not at a piece boundary, or not whole, is refused before any hashing", async () => {
  const verifier = new PieceVerifier();
  const { port1, port2 } = new MessageChannel();
  verifier.useHashers([port1]);
  port2.onmessage = () => assert.fail("nothing should reach a hash worker");
  const verify = { pieceSize: PIECE, hashes: new Uint8Array(64) };
  const shifted: StoredData = { path: "x", offset: 10, length: PIECE, status: "written" };
  await verifier.verify(shifted, 2 * PIECE, verify, new Uint8Array(PIECE));
  assert.equal(shifted.status, "corrupt");
  assert.match(shifted.reason!, /1024 bytes at offset 10 are not piece 0/);
  const short: StoredData = { path: "x", offset: 0, length: 5, status: "written" };
  await verifier.verify(short, 2 * PIECE, verify, new Uint8Array(5));
  assert.match(short.reason!, /5 bytes at offset 0 are not piece 0/);
  verifier.close();
  port2.close();
});

Deno.test(`room() waits while ${MAX_VERIFYING} pieces are out`, async () => {
  const verifier = new PieceVerifier();
  const { port1, port2 } = new MessageChannel();
  verifier.useHashers([port1]);
  const tasks: { id: number; buffer: ArrayBuffer }[] = [];
  port2.onmessage = (event) => tasks.push(event.data);
  const verify = { pieceSize: 8, hashes: new Uint8Array(32 * MAX_VERIFYING) };
  for (let i = 0; i < MAX_VERIFYING; i++) {
    verifier.verify(
      { path: "x", offset: i * 8, length: 8, status: "written" },
      64,
      verify,
      new Uint8Array(8),
    );
  }
  let roomy = false;
  const room = verifier.room().then(() => roomy = true);
  while (tasks.length < MAX_VERIFYING) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.equal(roomy, false);
  port2.postMessage({ id: tasks[0].id, buffer: tasks[0].buffer, status: "written" }, [
    tasks[0].buffer,
  ]);
  await room;
  assert.equal(verifier.verifying, MAX_VERIFYING - 1);
  verifier.close();
  port2.close();
});
