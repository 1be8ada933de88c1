import assert from "node:assert/strict";
import { fakeRecord } from "./_fake_connection.ts";
import { ConnectError } from "./errors.ts";
import { Heartbeat } from "./heartbeat.ts";
import { Registry } from "./registry.ts";
import { peers, RawPeer, record, waitFor } from "./testing.ts";

const fast = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 400 };

function heartbeatOf(changes: { idleTimeoutMs?: number } = {}) {
  const logs: string[] = [];
  const registry = new Registry("11".repeat(16));
  const heartbeat = new Heartbeat(registry, {
    handshakeTimeoutMs: 10_000,
    heartbeatIntervalMs: 2000,
    heartbeatTimeoutMs: 10_000,
    idleTimeoutMs: 0,
    log: (line) => logs.push(line),
    ...changes,
  });
  const open = (id = "ee".repeat(16)) => {
    const r = fakeRecord({ id });
    registry.add(r);
    registry.open(r, 60_000);
    return r;
  };
  return { registry, heartbeat, logs, open };
}

Deno.test("a pong settles its ping with the round trip and records it", async () => {
  const { heartbeat, open } = heartbeatOf();
  const r = open();
  const waiter = heartbeat.ping(r);
  assert.deepEqual(r.fake.sent.map((s) => s.message), [{ t: "ping", n: 1 }]);
  heartbeat.pong(r, 7); // no such ping: ignored
  heartbeat.pong(r, 1);
  const rtt = await waiter.promise;
  assert.ok(rtt >= 0);
  assert.equal(r.rttMs, rtt);
  assert.equal(r.pings.size, 0);
});

Deno.test("an unanswered ping fails after the heartbeat timeout; a closed connection's at once", async () => {
  const { heartbeat, open } = heartbeatOf();
  const r = open();
  const late = heartbeat.ping(r);
  heartbeat.tick(performance.now() + 1000);
  assert.equal(r.pings.size, 1, "not yet");
  // Fresh traffic keeps the neighbour alive; only the ping times out.
  r.fake.lastReceivedAt = performance.now() + 10_001;
  heartbeat.tick(performance.now() + 10_001);
  await assert.rejects(late.promise, (e: unknown) => {
    assert.ok(e instanceof ConnectError);
    assert.equal(e.reason, "timeout");
    assert.match(e.message, /no answer to ping 1/);
    return true;
  });
  const lost = heartbeat.ping(r);
  heartbeat.abandon(r, "peer said bye: gone");
  await assert.rejects(lost.promise, /peer said bye: gone/);
  r.fake.closedWith = { reason: "closing" };
  await assert.rejects(heartbeat.ping(r).promise, /connection is closing/);
});

Deno.test("a neighbour is pinged once per interval and dropped when silent past the timeout", () => {
  const { heartbeat, logs, open } = heartbeatOf();
  const r = open();
  const start = r.startedAt;
  r.fake.lastReceivedAt = start;
  heartbeat.tick(start + 1999);
  assert.equal(r.fake.sent.length, 0);
  heartbeat.tick(start + 2001); // (a ms to spare: these clocks are fractional)
  assert.equal(r.fake.sent.length, 1);
  heartbeat.tick(r.lastPingAt + 1999); // a ping is timed by the clock when it is sent
  assert.equal(r.fake.sent.length, 1, "one ping per interval");
  heartbeat.tick(r.lastPingAt + 2001);
  assert.equal(r.fake.sent.length, 2);
  heartbeat.tick(start + 10_001);
  assert.deepEqual(r.fake.closedWith, {
    reason: "no response for 10001 ms (heartbeat timeout)",
    code: "timeout",
  });
  assert.equal(logs.length, 1);
  assert.match(logs[0], /^peer eeeeeeee at 127\.0\.0\.1:\d+: no response for 10001 ms/);
});

Deno.test("with an idle timeout, a neighbour that sends no app message is closed", () => {
  const { heartbeat, open } = heartbeatOf({ idleTimeoutMs: 5000 });
  const r = open();
  r.fake.lastReceivedAt = r.startedAt + 5001; // pongs arrive, app messages do not
  heartbeat.tick(r.startedAt + 5001);
  assert.deepEqual(r.fake.closedWith, { reason: "idle for 5000 ms", code: "timeout" });
});

Deno.test("a handshake is timed from our hello, or given 30 s while the worker starts", async () => {
  const { registry, heartbeat } = heartbeatOf();
  const started = fakeRecord();
  const starting = fakeRecord();
  starting.fake.helloSentAt = null;
  registry.add(started);
  registry.add(starting);
  started.fake.helloSentAt = started.startedAt + 100;
  heartbeat.tick(started.startedAt + 10_099);
  assert.equal(started.fake.closedWith, null, "10 s from the hello, not from the socket");
  heartbeat.tick(started.startedAt + 10_101);
  assert.deepEqual(started.fake.closedWith, {
    reason: "handshake timed out after 10000 ms",
    code: "timeout",
  });
  await assert.rejects(started.ready.promise, /handshake timed out/);
  assert.equal(starting.fake.closedWith, null);
  heartbeat.tick(starting.startedAt + 30_001);
  assert.deepEqual(starting.fake.closedWith, {
    reason: "handshake timed out after 30000 ms",
    code: "timeout",
  });
});

Deno.test("a stalled peer is dropped after the heartbeat timeout", async () => {
  const [a] = await peers(1, fast);
  const lost = record(a, "peer:disconnected");
  const raw = await RawPeer.dial(a.port);
  try {
    await raw.handshake();
    await waitFor(() => a.peers().length === 1, "handshake");
    // The raw peer now answers nothing: no pongs, no frames.
    await waitFor(() => lost.length === 1, "heartbeat timeout", 5000);
    assert.match(lost[0].reason, /no response for \d+ ms \(heartbeat timeout\)/);
    assert.ok(await raw.next("ping"), "it was pinged before being dropped");
  } finally {
    await raw.close();
    await a.close();
  }
});

Deno.test("a connection that never finishes its handshake is closed", async () => {
  const [a] = await peers(1, { handshakeTimeoutMs: 500, heartbeatIntervalMs: 50 });
  const raw = await RawPeer.dial(a.port);
  try {
    assert.equal((await raw.next("hello"))?.t, "hello", "the peer speaks first");
    assert.deepEqual(a.connections().map((c) => c.state), ["handshaking"]);
    assert.equal(a.peers().length, 0, "not a peer before its handshake");
    const bye = await raw.next("bye");
    assert.equal(bye?.reason, "handshake timed out after 500 ms");
    await waitFor(() => raw.ended, "socket closed");
  } finally {
    await raw.close();
    await a.close();
  }
});
