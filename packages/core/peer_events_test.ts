import assert from "node:assert/strict";
import { peerEmitter } from "./peer_events.ts";
import { closeAll, peers, waitFor } from "./testing.ts";

Deno.test("a handler that throws is logged, and the other handlers still run", () => {
  const logs: string[] = [];
  const events = peerEmitter((line) => logs.push(line));
  const seen: string[] = [];
  events.on("error", () => {
    throw new Error("handler bug");
  });
  events.on("error", ({ address }) => seen.push(address));
  events.emit("error", {
    address: "10.0.0.7:7000",
    error: new Error("refused"),
    message: "refused",
  });
  assert.deepEqual(seen, ["10.0.0.7:7000"]);
  assert.equal(logs.length, 1);
  assert.match(logs[0], /^a "error" handler threw: Error: handler bug\n/);
});

Deno.test("a peer's throwing handler does not stop it from connecting", async () => {
  const logs: string[] = [];
  const [a, b] = await peers(2, { log: (line) => logs.push(line) });
  try {
    a.on("peer:connected", () => {
      throw new Error("handler bug");
    });
    await b.connect("127.0.0.1", a.port);
    await waitFor(() => a.peers().length === 1, "a to see b");
    assert.ok(
      logs.some((l) => l.startsWith(`a "peer:connected" handler threw: Error: handler bug`)),
    );
  } finally {
    await closeAll([a, b]);
  }
});
