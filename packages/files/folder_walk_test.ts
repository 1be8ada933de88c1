import assert from "node:assert/strict";
import { FileShareError } from "./errors.ts";
import { type Skipped, walkFolder } from "./folder_walk.ts";

Deno.test("a walk finds every regular file below, with size and time, and says what it left out", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/a/b`, { recursive: true });
    await Deno.writeTextFile(`${dir}/a/b/c.txt`, "abc");
    await Deno.writeTextFile(`${dir}/top`, "");
    // A name that is fine on this disk, but that a folder's manifest cannot carry.
    await Deno.writeTextFile(`${dir}/a/back\\slash`, "x");
    await Deno.writeTextFile(`${dir}/a/line\nbreak`, "x");
    await Deno.symlink(`${dir}/a`, `${dir}/a/b/loop`);
    const skipped: Skipped[] = [];
    const found = await walkFolder(dir, (s) => skipped.push(s));
    assert.deepEqual(
      found.map(({ path, size }) => ({ path, size })).sort((x, y) => x.path < y.path ? -1 : 1),
      [{ path: "a/b/c.txt", size: 3 }, { path: "top", size: 0 }],
    );
    assert.ok(found.every((f) => f.mtime > 0));
    assert.deepEqual(skipped.sort((x, y) => x.path < y.path ? -1 : 1), [
      { path: "a/b/loop", reason: "a symbolic link (links are not followed)" },
      { path: "a/back\\slash", reason: "its name cannot be carried: it holds a backslash" },
      { path: "a/line\nbreak", reason: "its name cannot be carried: it holds control characters" },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder that cannot be read is an unreadable error naming it", async () => {
  const error = await walkFolder("/no/such/folder", () => {}).then(() => null, (e) => e);
  assert.ok(error instanceof FileShareError);
  assert.equal(error.code, "unreadable");
  assert.match(error.message, /^cannot read \/no\/such\/folder: /);
});
