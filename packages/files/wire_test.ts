import assert from "node:assert/strict";
import { assertValid, validate } from "@meshtalk/core";
import {
  announcement,
  filesApp,
  type FilesMessage,
  pieceKey,
  readAnnouncement,
  readPieceKey,
  REFUSED_BUSY,
  REFUSED_MISSING,
} from "./wire.ts";

const manifest = {
  name: "report.pdf",
  size: 20_000,
  pieceSize: 16384,
  pieces: new Uint8Array(64).fill(7),
  root: "ab".repeat(32),
};
const signature = { origin: "cd".repeat(16), key: new Uint8Array(32), sig: new Uint8Array(64) };

Deno.test("an announcement carries the manifest, its signature and one holder, in the wire's field order", () => {
  const body = announcement(manifest, signature, "ef".repeat(16), "10.0.0.7:7000", 16);
  // MessagePack writes a map in its keys' order: this order is the wire's.
  assert.deepEqual(Object.keys(body), [
    "t",
    "name",
    "size",
    "pieceSize",
    "pieces",
    "root",
    "origin",
    "key",
    "sig",
    "holder",
    "address",
    "hops",
  ]);
  assertValid(filesApp.schema, body);
  assert.deepEqual(readAnnouncement(body), { manifest, signature });
  const noAddress = announcement(manifest, signature, "ef".repeat(16), null, 1);
  assert.equal("address" in noAddress, false, "an unknown address is left out, not sent empty");
  assertValid(filesApp.schema, noAddress);
});

Deno.test("every message of the files app passes its schema; bounds are enforced", () => {
  const file = manifest.root;
  const messages: FilesMessage[] = [
    { t: "want", file },
    { t: "have", file, bits: new Uint8Array([0xc0]) },
    { t: "got", file, piece: 1 },
    { t: "request", file, piece: 1 },
    { t: "cancel", file, piece: 1 },
    { t: "refuse", file, piece: 1, reason: REFUSED_BUSY },
    { t: "refuse", file, piece: 1, reason: REFUSED_MISSING },
    { t: "piece", file, offset: 16384, data: new Uint8Array(3616) },
  ];
  for (const message of messages) assert.deepEqual(validate(filesApp.schema, message), message);
  assert.throws(() => validate(filesApp.schema, { t: "request", file, piece: 32 * 1024 + 1 }));
  assert.throws(() => validate(filesApp.schema, { t: "want", file: "x".repeat(65) }));
  assert.throws(() => validate(filesApp.schema, { t: "unknown", file }));
  assert.deepEqual(filesApp.bulk, { data: "data", key: "file", offset: "offset" });
});

Deno.test("a folder's announcement carries its files after its piece hashes", () => {
  const folder = {
    ...manifest,
    files: [{ path: "a.txt", size: 16384 }, { path: "sub/b", size: 20_000 - 16384 }],
  };
  const body = announcement(folder, signature, "ef".repeat(16), null, 16);
  assert.deepEqual(Object.keys(body).slice(0, 7), [
    "t",
    "name",
    "size",
    "pieceSize",
    "pieces",
    "files",
    "root",
  ]);
  assertValid(filesApp.schema, body);
  assert.deepEqual(readAnnouncement(body), {
    manifest: folder,
    signature,
  });
  assert.equal(
    "files" in readAnnouncement(announcement(manifest, signature, "x", null, 1)).manifest,
    false,
  );
  assert.throws(
    () => validate(filesApp.schema, { ...body, files: [{ path: "x".repeat(1025), size: 1 }] }),
    /exceeds 1024/,
  );
});

Deno.test("a piece of a folder's file is keyed by the root and the file's number", () => {
  const root = manifest.root;
  assert.equal(pieceKey(root, null), root);
  assert.equal(pieceKey(root, 0), `${root}/0`);
  assert.deepEqual(readPieceKey(root), { root, entry: 0 });
  assert.deepEqual(readPieceKey(`${root}/9999`), { root, entry: 9999 });
  for (
    const key of [`${root}/`, `${root}/01`, `${root}/-1`, `${root}/x`, root.slice(1), `${root}a`]
  ) {
    assert.equal(readPieceKey(key), null, key);
  }
  const piece = { t: "piece", file: `${root}/9999`, offset: 0, data: new Uint8Array(1) };
  assert.deepEqual(validate(filesApp.schema, piece), piece);
  assert.throws(() => validate(filesApp.schema, { ...piece, file: `${root}/10000` }));
});
