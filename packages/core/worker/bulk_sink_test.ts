import assert from "node:assert/strict";
import type { AppMessage } from "../messages.ts";
import { s } from "../schema.ts";
import { BulkSinks } from "./bulk_sink.ts";
import { PieceVerifier } from "./piece_verifier.ts";

const bulk = { blob: { data: "data", key: "file", offset: "at" } };
const apps = { blob: s.map({ file: s.str(8), at: s.uint(), data: s.bin(100) }) };
const piece = (file: string, at: number, data: Uint8Array): AppMessage => ({
  t: "app",
  app: "blob",
  body: { file, at, data },
});

Deno.test("bytes bound for a sink are lifted out and written at their offset", async () => {
  const dir = await Deno.makeTempDir();
  const sinks = new BulkSinks(bulk, apps, new PieceVerifier());
  try {
    sinks.set({ type: "sink", app: "blob", key: "f", path: `${dir}/f` });
    assert.equal(sinks.lift(piece("other", 0, new Uint8Array(1))), undefined, "no sink for it");
    assert.equal(sinks.lift({ t: "ping", n: 1 }), undefined);
    const message = piece("f", 4, new Uint8Array([1, 2, 3]));
    const lifted = sinks.lift(message)!;
    assert.deepEqual(message.body.data, new Uint8Array(0), "lifted before validation copies it");
    await sinks.store(message, lifted);
    assert.equal(message.body.data, undefined, "delivered without the bytes");
    assert.deepEqual(message.stored, { path: `${dir}/f`, offset: 4, length: 3, status: "written" });
    assert.deepEqual(await Deno.readFile(`${dir}/f`), new Uint8Array([0, 0, 0, 0, 1, 2, 3]));
    sinks.set({ type: "sink", app: "blob", key: "f", path: null });
    assert.equal(sinks.lift(piece("f", 0, new Uint8Array(1))), undefined, "stopped");
  } finally {
    sinks.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bytes over the schema's limit or past the sink's size are refused", async () => {
  const dir = await Deno.makeTempDir();
  const sinks = new BulkSinks(bulk, apps, new PieceVerifier());
  try {
    sinks.set({ type: "sink", app: "blob", key: "f", path: `${dir}/f`, size: 10 });
    assert.throws(
      () => sinks.lift(piece("f", 0, new Uint8Array(101))),
      /blob message.data: 101 bytes exceeds 100/,
    );
    const message = piece("f", 8, new Uint8Array(5));
    const lifted = sinks.lift(message)!;
    assert.throws(
      () => sinks.store(message, lifted),
      /5 bytes at offset 8 run past the end of "f" \(10 bytes\)/,
    );
    await assert.rejects(() => Deno.stat(`${dir}/f`), Deno.errors.NotFound, "nothing written");
  } finally {
    sinks.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file that cannot be written is reported in the message, not thrown", async () => {
  const sinks = new BulkSinks(bulk, apps, new PieceVerifier());
  sinks.set({ type: "sink", app: "blob", key: "f", path: "/nonexistent-dir/f" });
  const message = piece("f", 0, new Uint8Array(1));
  await sinks.store(message, sinks.lift(message)!);
  assert.equal(message.stored?.status, "failed");
  assert.match(message.stored!.reason!, /^cannot write \/nonexistent-dir\/f: /);
  sinks.close();
});

Deno.test("a verifying sink without hash workers refuses the piece", async () => {
  const sinks = new BulkSinks(bulk, apps, new PieceVerifier());
  sinks.set({
    type: "sink",
    app: "blob",
    key: "v",
    path: "/unused",
    size: 4,
    verify: { pieceSize: 4, hashes: new Uint8Array(32) },
  });
  const message = piece("v", 0, new Uint8Array(4));
  await sinks.store(message, sinks.lift(message)!);
  assert.equal(message.stored?.status, "corrupt");
  assert.equal(message.stored?.reason, "no hash workers to verify it with");
});
