import assert from "node:assert/strict";
import { closeAll, echo, peers, record, waitFor, within } from "./testing.ts";

Deno.test("graceful close says bye; the other side reports why", async () => {
  const [a, b] = await peers(2);
  const lost = record(a, "peer:disconnected");
  try {
    await a.connect("127.0.0.1", b.port);
    await b.close();
    await waitFor(() => lost.length === 1, "a to notice b leaving");
    assert.equal(lost[0].peer.id, b.id);
    assert.equal(lost[0].reason, "peer said bye: peer shutting down");
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("a peer whose user parts from us is not redialed by our upkeep either", async () => {
  const [a, b] = await peers(2);
  const lost = record(a, "peer:disconnected");
  try {
    await a.connect("127.0.0.1", b.port);
    await waitFor(() => b.peers().length === 1, "b to see a");
    assert.equal(a.addresses().find((x) => x.port === b.port)?.blocked, false);
    await b.disconnect(a.id);
    await waitFor(() => lost.length === 1, "a to see b part");
    assert.equal(lost[0].reason, "peer said bye: disconnected by user");
    assert.equal(a.addresses().find((x) => x.port === b.port)?.blocked, true);
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("a message is reported with who sent it; a peer reports each neighbour once", async () => {
  const [a, b] = await peers(2);
  const connected = record(a, "peer:connected");
  const messages = record(a, "message");
  try {
    await b.connect("127.0.0.1", a.port);
    await waitFor(() => a.peers().length === 1, "a to see b");
    await b.app(echo).send(a.id, { text: "one" });
    await b.app(echo).send(a.id, { text: "two" });
    await waitFor(() => messages.length === 2, "both messages");
    assert.deepEqual(messages.map((m) => [m.app, m.body.text, m.from.id]), [
      ["echo", "one", b.id],
      ["echo", "two", b.id],
    ]);
    assert.deepEqual(connected.map((p) => [p.id, p.nick, p.direction]), [[b.id, "p1", "inbound"]]);
    assert.equal(await within(b.ping(a.id).then(() => "pong"), "a pong"), "pong");
  } finally {
    await closeAll([a, b]);
  }
});
