import assert from "node:assert/strict";
import { randomBytes, waitFor } from "./_test_util.ts";
import type { StoredData } from "./messages.ts";
import { defineApp, type PeerEvents, startPeer } from "./peer.ts";
import { s } from "./schema.ts";

const blob = defineApp(
  "blob",
  s.map({ file: s.str(64), offset: s.uint(), note: s.optional(s.str(100)), data: s.bin(1 << 20) }),
  { bulk: { data: "data", key: "file", offset: "offset" } },
);
const PIECE = 256 * 1024;

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (bytes: Uint8Array) =>
  hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource)));

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

Deno.test("file ranges go from disk to disk through the workers, hashed, in any order", async () => {
  const dir = await Deno.makeTempDir();
  const [a, b] = await pair();
  try {
    const source = randomBytes(5 * PIECE + 1234);
    await Deno.writeFile(`${dir}/source`, source);
    const stored: [Record<string, unknown>, StoredData][] = [];
    b.app(blob).onMessage((body, _from, where) => stored.push([body, where!]));
    b.app(blob).receiveIntoFile("f1", `${dir}/copy`, { hash: true });
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
      const expected = source.subarray(offset, offset + where.length);
      assert.equal(hex(where.sha256!), await sha256(expected));
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
