import assert from "node:assert/strict";
import { Bitfield } from "./bitfield.ts";
import { fileStatus } from "./status.ts";

const files = [{ path: "a", size: 20_000 }, { path: "b", size: 0 }, { path: "c", size: 5 }];
const folder = {
  name: "docs",
  size: 20_005,
  pieceSize: 16384,
  pieces: new Uint8Array(96),
  root: "ab".repeat(32),
  files,
};
const origin = "cd".repeat(16);
const known = {
  manifest: folder,
  signature: { origin, key: new Uint8Array(32), sig: new Uint8Array(64) },
  holders: new Map<string, string | null>([[origin, null], ["ef".repeat(16), "10.0.0.7:7000"]]),
};

Deno.test("a folder known but not fetched: one status for all its files, who offered it, how many hold it", () => {
  const status = fileStatus(known, undefined, (id) => id === origin ? "ada" : null);
  assert.deepEqual(status, {
    name: "docs",
    root: folder.root,
    size: 20_005,
    pieces: 3,
    have: 0,
    bytes: 0,
    state: "known",
    path: null,
    sources: 0,
    rate: 0,
    kind: "folder",
    files: 3,
    holders: 2,
    origin: { id: origin, nick: "ada" },
  });
  assert.equal(fileStatus(known, undefined, () => null).origin?.nick, null, "nick unknown");
});

Deno.test("a file offered here is seeding, whole, held by this peer", () => {
  const manifest = { ...folder, files: undefined, size: 5, pieces: new Uint8Array(32) };
  const local = { manifest, have: Bitfield.full(1), path: "/srv/a" };
  const status = fileStatus(undefined, local, () => null);
  assert.equal(status.state, "seeding");
  assert.equal(status.kind, "file");
  assert.equal("files" in status, false);
  assert.equal(status.bytes, 5);
  assert.equal(status.holders, 1);
  assert.equal(status.path, "/srv/a");
});
