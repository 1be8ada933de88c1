import assert from "node:assert/strict";
import { blake3 as blake3Hex } from "hash-wasm";
import { randomBytes, waitFor } from "./testing.ts";
import type { StoredData } from "./messages.ts";
import { defineApp, type Peer, type PeerEvents, startPeer } from "./peer.ts";
import { s } from "./schema.ts";

const blob = defineApp(
  "blob",
  s.map({ file: s.str(64), offset: s.uint(), note: s.optional(s.str(100)), data: s.bin(1 << 20) }),
  { bulk: { data: "data", key: "file", offset: "offset" } },
);
const PIECE = 256 * 1024;

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

async function pair() {
  const options = {
    host: "127.0.0.1",
    apps: [blob],
    targetConnections: 0,
    log: () => {},
    handshakeTimeoutMs: 30_000,
  };
  const [a, b] = await Promise.all([startPeer(options), startPeer(options)]);
  await a.connect("127.0.0.1", b.port);
  await waitFor(() => b.peers().length === 1, "b to see a");
  return [a, b] as const;
}

/**
 * Resolves once `b`'s workers hold the sink just set: a sink is posted to each worker, and a ping
 * sent after it is answered only once the worker took the sink (a worker takes its posts in order).
 */
async function sinkInPlace(b: Peer, a: Peer): Promise<void> {
  await b.ping(a.id);
}

Deno.test("file ranges go from disk to disk through the workers, in any order", async () => {
  const dir = await Deno.makeTempDir();
  const [a, b] = await pair();
  try {
    const source = randomBytes(5 * PIECE + 1234);
    await Deno.writeFile(`${dir}/source`, source);
    const stored: [Record<string, unknown>, StoredData][] = [];
    b.app(blob).onMessage((body, _from, where) => stored.push([body, where!]));
    b.app(blob).receiveIntoFile("f1", `${dir}/copy`);
    await sinkInPlace(b, a);
    const offsets = [3, 0, 5, 1, 4, 2].map((i) => i * PIECE);
    for (const offset of offsets) {
      const length = Math.min(PIECE, source.length - offset);
      await a.app(blob).sendFromFile(b.id, { file: "f1", offset, note: `piece at ${offset}` }, {
        path: `${dir}/source`,
        offset,
        length,
      });
    }
    await waitFor(() => stored.length === offsets.length, "every piece stored");
    assert.deepEqual(
      await Deno.readFile(`${dir}/copy`),
      source,
      "the copy is byte for byte the source",
    );
    for (const [body, where] of stored) {
      const offset = body.offset as number;
      assert.equal(body.data, undefined, "the bytes are not delivered to the main thread");
      assert.equal(body.note, `piece at ${offset}`);
      assert.equal(where.offset, offset);
      assert.equal(where.path, `${dir}/copy`);
      assert.equal(where.status, "written");
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without a sink for its key, a message sent from a file arrives with its bytes", async () => {
  const dir = await Deno.makeTempDir();
  const [a, b] = await pair();
  try {
    const source = randomBytes(100_000);
    await Deno.writeFile(`${dir}/source`, source);
    b.app(blob).receiveIntoFile("other", `${dir}/never`);
    await sinkInPlace(b, a);
    const got = Promise.withResolvers<[Record<string, unknown>, StoredData | undefined]>();
    b.app(blob).onMessage((body, _from, where) => got.resolve([body, where]));
    await a.app(blob).sendFromFile(b.id, { file: "f2", offset: 7 }, {
      path: `${dir}/source`,
      offset: 10,
      length: 5000,
    });
    const [body, where] = await got.promise;
    assert.equal(where, undefined);
    assert.deepEqual(body.data, source.subarray(10, 5010));
    await assert.rejects(() => Deno.stat(`${dir}/never`), Deno.errors.NotFound);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a source file that cannot be read is reported; the connection keeps working", async () => {
  const dir = await Deno.makeTempDir();
  const [a, b] = await pair();
  const errors: PeerEvents["error"][] = [];
  a.on("error", (e) => errors.push(e));
  try {
    await Deno.writeFile(`${dir}/short`, new Uint8Array(10));
    const got: Record<string, unknown>[] = [];
    b.app(blob).onMessage((body) => got.push(body));
    await a.app(blob).sendFromFile(b.id, { file: "x", offset: 0 }, {
      path: `${dir}/missing`,
      offset: 0,
      length: 10,
    });
    await a.app(blob).sendFromFile(b.id, { file: "x", offset: 0 }, {
      path: `${dir}/short`,
      offset: 5,
      length: 10,
    });
    a.app(blob).broadcast({ file: "x", offset: 1, data: new Uint8Array([1, 2, 3]) });
    await waitFor(() => got.length === 1 && errors.length === 2, "the good message and two errors");
    assert.deepEqual(got[0].data, new Uint8Array([1, 2, 3]));
    assert.match(errors[0].error.message, /cannot send from .*missing/);
    assert.match(errors[1].error.message, /holds 10 bytes, fewer than 5 \+ 10/);
    assert.equal(a.peers().length, 1);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bytes past the size given to a sink are refused; other binary fields stay intact", async () => {
  const dir = await Deno.makeTempDir();
  const [a, b] = await pair();
  const errors: PeerEvents["error"][] = [];
  b.on("error", (e) => errors.push(e));
  try {
    const got: [Record<string, unknown>, StoredData | undefined][] = [];
    b.app(blob).onMessage((body, _from, where) => got.push([body, where]));
    b.app(blob).receiveIntoFile("f", `${dir}/copy`, { size: 1000 });
    await sinkInPlace(b, a);
    a.app(blob).broadcast({
      file: "f",
      offset: 0,
      note: "fits",
      data: new Uint8Array(1000).fill(7),
    });
    await waitFor(() => got.length === 1, "the fitting piece");
    assert.equal(got[0][1]?.length, 1000);
    a.app(blob).broadcast({ file: "f", offset: 900, data: new Uint8Array(200) });
    await waitFor(() => errors.length === 1, "the refusal");
    assert.match(
      errors[0].error.message,
      /200 bytes at offset 900 run past the end of "f" \(1000 bytes\)/,
    );
    assert.equal((await Deno.stat(`${dir}/copy`)).size, 1000, "nothing written past the end");
  } finally {
    await Promise.all([a.close(), b.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hash workers hash every piece of a file, or the pieces asked for", async () => {
  const dir = await Deno.makeTempDir();
  const peer = await startPeer({ host: "127.0.0.1", apps: [blob], targetConnections: 0 });
  try {
    const source = randomBytes(3 * PIECE + 17);
    await Deno.writeFile(`${dir}/source`, source);
    const progress: number[] = [];
    const all = await peer.app(blob).hashPieces(`${dir}/source`, PIECE, {
      onProgress: (done) => progress.push(done),
    });
    assert.equal(all.length, 4 * 32);
    for (let i = 0; i < 4; i++) {
      const expected = await blake3Hex(source.subarray(i * PIECE, (i + 1) * PIECE));
      assert.equal(hex(all.subarray(i * 32, (i + 1) * 32)), expected, `piece ${i}`);
    }
    assert.equal(progress.at(-1), 4);
    const some = await peer.app(blob).hashPieces(`${dir}/source`, PIECE, { pieces: [3, 1] });
    assert.deepEqual(some, new Uint8Array([...all.subarray(96, 128), ...all.subarray(32, 64)]));
    await assert.rejects(
      () => peer.app(blob).hashPieces(`${dir}/missing`, PIECE),
      /cannot hash .*missing/,
    );
    await assert.rejects(
      () => peer.app(blob).hashPieces(`${dir}/source`, PIECE, { pieces: [4] }),
      /has no piece 4/,
    );
  } finally {
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a verifying sink writes only whole pieces that match their hash", async () => {
  const dir = await Deno.makeTempDir();
  const [a, b] = await pair();
  try {
    const source = randomBytes(3 * PIECE + 100);
    await Deno.writeFile(`${dir}/source`, source);
    const bad = source.slice();
    bad[PIECE + 5] ^= 1; // piece 1 differs by one bit
    await Deno.writeFile(`${dir}/bad`, bad);
    const hashes = await b.app(blob).hashPieces(`${dir}/source`, PIECE);
    await Deno.writeFile(`${dir}/copy`, new Uint8Array(0));
    await Deno.truncate(`${dir}/copy`, source.length);
    const stored: StoredData[] = [];
    b.app(blob).onMessage((_body, _from, where) => stored.push(where!));
    b.app(blob).receiveIntoFile("v", `${dir}/copy`, {
      size: source.length,
      verify: { pieceSize: PIECE, hashes },
    });
    await sinkInPlace(b, a);
    const send = (path: string, offset: number, length: number) =>
      a.app(blob).sendFromFile(b.id, { file: "v", offset }, { path, offset, length });
    await send(`${dir}/bad`, PIECE, PIECE); // corrupt
    await send(`${dir}/source`, 0, PIECE / 2); // not a whole piece
    await send(`${dir}/source`, 10, PIECE); // not at a piece boundary
    for (const piece of [3, 1, 0, 2]) {
      await send(`${dir}/source`, piece * PIECE, Math.min(PIECE, source.length - piece * PIECE));
    }
    await waitFor(() => stored.length === 7, "every piece answered");
    assert.deepEqual(stored.slice(0, 3).map((s) => s.status), ["corrupt", "corrupt", "corrupt"]);
    assert.match(stored[0].reason!, /hash does not match/);
    assert.match(stored[1].reason!, /not piece 0/);
    assert.deepEqual(stored.slice(3).map((s) => [s.offset, s.status]), [
      [3 * PIECE, "written"],
      [PIECE, "written"],
      [0, "written"],
      [2 * PIECE, "written"],
    ]);
    assert.deepEqual(await Deno.readFile(`${dir}/copy`), source);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a corrupt piece is never written, not even over a hole", async () => {
  const dir = await Deno.makeTempDir();
  const [a, b] = await pair();
  try {
    const source = randomBytes(2 * PIECE);
    const bad = randomBytes(2 * PIECE);
    await Deno.writeFile(`${dir}/bad`, bad);
    const hashes = await b.app(blob).hashPieces(
      await Deno.writeFile(`${dir}/source`, source).then(() => `${dir}/source`),
      PIECE,
    );
    await Deno.writeFile(`${dir}/copy`, new Uint8Array(2 * PIECE));
    const stored: StoredData[] = [];
    b.app(blob).onMessage((_body, _from, where) => stored.push(where!));
    b.app(blob).receiveIntoFile("w", `${dir}/copy`, {
      size: source.length,
      verify: { pieceSize: PIECE, hashes },
    });
    await sinkInPlace(b, a);
    await a.app(blob).sendFromFile(b.id, { file: "w", offset: 0 }, {
      path: `${dir}/bad`,
      offset: 0,
      length: PIECE,
    });
    await waitFor(() => stored.length === 1, "the answer");
    assert.equal(stored[0].status, "corrupt");
    assert.deepEqual(await Deno.readFile(`${dir}/copy`), new Uint8Array(2 * PIECE));
  } finally {
    await Promise.all([a.close(), b.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});
