import assert from "node:assert/strict";
import { Emitter } from "./emitter.ts";

Deno.test("an emitter calls handlers in order; one that throws is reported, the rest still run", () => {
  const failures: [string, unknown][] = [];
  const events = new Emitter<{ a: number; b: string }>((event, error) =>
    failures.push([String(event), error])
  );
  const seen: string[] = [];
  events.on("a", (n) => seen.push(`first ${n}`));
  events.on("a", () => {
    throw new Error("boom");
  });
  const off = events.on("a", (n) => seen.push(`third ${n}`));
  events.emit("a", 1);
  off();
  events.emit("a", 2);
  events.emit("b", "nobody listens");
  assert.deepEqual(seen, ["first 1", "third 1", "first 2"]);
  assert.equal(failures.length, 2);
  assert.equal((failures[0][1] as Error).message, "boom");
  assert.equal(events.listens("a"), true);
  assert.equal(events.listens("b"), false);
});
