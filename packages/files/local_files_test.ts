import assert from "node:assert/strict";
import { Bitfield } from "./bitfield.ts";
import { LocalFiles } from "./local_files.ts";

const manifest = {
  name: "a.bin",
  size: 40_000,
  pieceSize: 16384,
  pieces: new Uint8Array(96),
  root: "ab".repeat(32),
};

Deno.test("a whole file serves every piece from its path; a partial one only the pieces it has", () => {
  const files = new LocalFiles();
  files.seed(manifest, "/srv/a.bin");
  assert.deepEqual(files.locate(manifest.root, 0), {
    key: manifest.root,
    path: "/srv/a.bin",
    offset: 0,
    length: 16384,
  });
  assert.deepEqual(files.locate(manifest.root, 2), {
    key: manifest.root,
    path: "/srv/a.bin",
    offset: 32768,
    length: 40_000 - 32768,
  });
  assert.equal(files.locate(manifest.root, 3), null, "past the last piece");
  assert.equal(files.locate("cd".repeat(32), 0), null, "another file");

  const have = new Bitfield(3);
  have.set(1);
  files.add({ manifest, have, path: "/out/.meshtalk/a.partial" });
  assert.equal(files.locate(manifest.root, 0), null);
  assert.equal(files.locate(manifest.root, 1)?.path, "/out/.meshtalk/a.partial");
});

Deno.test("interest is kept in files here only, told the pieces here, and forgotten with the peer or the file", () => {
  const files = new LocalFiles();
  assert.equal(files.want(manifest.root, "ada"), null);
  assert.deepEqual([...files.interested(manifest.root)], [], "nothing kept for a file not here");
  const have = new Bitfield(3);
  files.add({ manifest, have, path: "/out/a.partial" });
  assert.equal(files.want(manifest.root, "ada"), null, "nothing to tell yet");
  assert.deepEqual([...files.interested(manifest.root)], ["ada"], "but told of what comes");
  have.set(0);
  assert.deepEqual(files.want(manifest.root, "bob"), new Uint8Array([0x80]));
  files.forget("ada");
  assert.deepEqual([...files.interested(manifest.root)], ["bob"]);
  files.delete(manifest.root);
  assert.equal(files.get(manifest.root), undefined);
  assert.deepEqual([...files.interested(manifest.root)], []);
});
