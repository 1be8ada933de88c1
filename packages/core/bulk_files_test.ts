import assert from "node:assert/strict";
import { FakeConnection } from "./_fake_connection.ts";
import { BulkFiles } from "./bulk_files.ts";
import type { Connection } from "./connection.ts";
import { ConnectError } from "./errors.ts";

function filesOf() {
  const fakes = [new FakeConnection(1), new FakeConnection(2)];
  let closing = false;
  const files = new BulkFiles(() => fakes as unknown as Connection[], () => closing);
  return { fakes, files, close: () => closing = true };
}

Deno.test("a sink is told to every connection and kept for new ones until it stops", () => {
  const { fakes, files } = filesOf();
  const start = { type: "sink" as const, app: "files", key: "k", path: "/tmp/k.part" };
  files.setSink(start);
  files.setSink({ ...start, key: "j", path: "/tmp/j.part" });
  assert.deepEqual(files.sinks().map((s) => s.key), ["k", "j"]);
  assert.deepEqual(fakes[1].sinks.map((s) => s.key), ["k", "j"]);
  files.setSink({ ...start, path: null });
  assert.deepEqual(files.sinks().map((s) => s.key), ["j"]);
  assert.deepEqual(fakes[0].sinks.at(-1), { ...start, path: null }, "stopped on each connection");
});

Deno.test("the hash workers start on first use, for every connection, and not once closing", () => {
  const { fakes, files, close } = filesOf();
  const later = new FakeConnection(3);
  files.link(later as unknown as Connection);
  assert.equal(later.hashers, 0, "no workers yet: nothing to link");
  try {
    const pool = files.hashPool();
    assert.equal(files.hashPool(), pool, "one pool");
    assert.deepEqual(fakes.map((f) => f.hashers), [1, 1]);
    files.link(later as unknown as Connection);
    assert.equal(later.hashers, 1);
    close();
    assert.throws(() => files.hashPool(), (e: unknown) => {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.reason, "closed");
      return true;
    });
  } finally {
    files.close();
  }
});
