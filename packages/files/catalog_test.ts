import assert from "node:assert/strict";
import { Catalog } from "./catalog.ts";
import type { Manifest, ManifestSignature } from "./manifest.ts";

function manifestOf(n: number, pieces = 1): Manifest {
  const root = n.toString(16).padStart(64, "0");
  return {
    name: `f${n}`,
    size: pieces,
    pieceSize: 16384,
    pieces: new Uint8Array(32 * pieces),
    root,
  };
}

function signedBy(origin: string): ManifestSignature {
  return { origin, key: new Uint8Array(32), sig: new Uint8Array(64) };
}

Deno.test("a file keeps its first signature, and its holders heard of last, this peer always", () => {
  const catalog = new Catalog("me", { maxHolders: 3 });
  const file = manifestOf(1);
  assert.ok(catalog.add(file, signedBy("first"), "me", null));
  assert.ok(catalog.add(file, signedBy("second"), "a", "10.0.0.1:1"));
  assert.equal(catalog.get(file.root)!.signature.origin, "first");
  catalog.add(file, signedBy("first"), "b", "10.0.0.2:1");
  catalog.add(file, signedBy("first"), "c", null);
  assert.deepEqual([...catalog.get(file.root)!.holders.keys()], ["me", "b", "c"], "a went");
  // Heard of again: moves to the newest place, its address updated.
  catalog.add(file, signedBy("first"), "b", "10.0.0.9:1");
  assert.deepEqual([...catalog.get(file.root)!.holders], [
    ["me", null],
    ["c", null],
    ["b", "10.0.0.9:1"],
  ]);
  assert.deepEqual(catalog.holderToTell(file.root), ["me", null], "this peer holds it");
  assert.equal(catalog.holderToTell(manifestOf(2).root), undefined);
});

Deno.test("without this peer among the holders, the one heard of last is named", () => {
  const catalog = new Catalog("me");
  const file = manifestOf(1);
  catalog.add(file, signedBy("o"), "a", "10.0.0.1:1");
  catalog.add(file, signedBy("o"), "b", "10.0.0.2:1");
  assert.deepEqual(catalog.holderToTell(file.root), ["b", "10.0.0.2:1"]);
});

Deno.test("files announced by others stop being taken in at the file and byte budgets; own ones never", () => {
  const byCount = new Catalog("me", { maxFiles: 2 });
  assert.ok(byCount.add(manifestOf(1), signedBy("o"), "a", null));
  assert.ok(byCount.add(manifestOf(2), signedBy("o"), "a", null));
  assert.equal(byCount.add(manifestOf(3), signedBy("o"), "a", null), false);
  assert.equal(byCount.get(manifestOf(3).root), undefined);
  assert.ok(byCount.add(manifestOf(1), signedBy("o"), "b", null), "known files take holders");
  assert.ok(byCount.add(manifestOf(4), signedBy("me"), "me", null), "this peer's own file");
  assert.equal(byCount.size, 3);

  const byBytes = new Catalog("me", { maxBytes: 100 });
  assert.ok(byBytes.add(manifestOf(1, 2), signedBy("o"), "a", null)); // 64 bytes of hashes
  assert.ok(byBytes.add(manifestOf(2, 2), signedBy("o"), "a", null)); // 128: over, but was under
  assert.equal(byBytes.bytes, 128);
  assert.equal(byBytes.add(manifestOf(3, 1), signedBy("o"), "a", null), false);
  assert.deepEqual(byBytes.files().map((f) => f.manifest.name), ["f1", "f2"]);

  // A folder's paths count too: a folder of many files and few pieces is not free.
  const byPaths = new Catalog("me", { maxBytes: 100 });
  const files = Array.from({ length: 10 }, (_, i) => ({ path: `file-${i}`, size: 0 }));
  assert.ok(byPaths.add({ ...manifestOf(1, 0), files }, signedBy("o"), "a", null));
  assert.equal(byPaths.bytes, 10 * (6 + 8));
  assert.equal(byPaths.add(manifestOf(2, 0), signedBy("o"), "a", null), false);
});

Deno.test("handled announcements are remembered, the oldest forgotten past the cap", () => {
  const catalog = new Catalog("me", { maxSeen: 2 });
  catalog.markSeen("r1", "a");
  catalog.markSeen("r1", "b");
  assert.ok(catalog.seen("r1", "a") && catalog.seen("r1", "b"));
  assert.equal(catalog.seen("r2", "a"), false);
  catalog.markSeen("r2", "a");
  assert.equal(catalog.seen("r1", "a"), false);
  assert.ok(catalog.seen("r2", "a"));
});
