import assert from "node:assert/strict";
import { fakeRecord } from "./_fake_connection.ts";
import { AddressBook } from "./address_book.ts";
import { Admission } from "./admission.ts";
import { ConnectError } from "./errors.ts";
import { resolvePeerOptions } from "./peer_options.ts";
import { Registry } from "./registry.ts";
import { decodeValue } from "./codec.ts";
import { closeAll, type Frame, peers, RawPeer, record, waitFor } from "./testing.ts";

Deno.test("connections over the limit are refused with a reason", async () => {
  const list = await peers(4, { maxConnections: 2 });
  const [hub, x, y, z] = list;
  try {
    await x.connect("127.0.0.1", hub.port);
    await y.connect("127.0.0.1", hub.port);
    await assert.rejects(() => z.connect("127.0.0.1", hub.port), (e: unknown) => {
      assert.ok(e instanceof ConnectError);
      assert.match(e.message, /too many connections/);
      return true;
    });
    assert.equal(hub.peers().length, 2);
    await assert.rejects(() => hub.connect("127.0.0.1", z.port), /at the limit of 2 connections/);
  } finally {
    await closeAll(list);
  }
});

Deno.test("a peer flooding frames is dropped and backed off; its other neighbours are served meanwhile", async () => {
  const logs: string[] = [];
  // Below the default (10,000): the limit is charged as frames are processed, and a loaded test
  // machine may not process 10,000 a second; a flood is a flood at any limit.
  const [a, b] = await peers(2, { log: (line) => logs.push(line), maxFramesPerSecond: 2000 });
  const errors = record(a, "error");
  const flooder = await RawPeer.dial(a.port, false);
  try {
    await b.connect("127.0.0.1", a.port);
    await flooder.handshakeBlind();
    await waitFor(() => a.peers().length === 2, "both neighbours");
    // Sealed ahead, then sent as fast as the socket takes them.
    const burst: Uint8Array[] = [];
    for (let round = 0; round < 60; round++) {
      const frames = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => flooder.frame({ t: "ping", n: round * 1000 + i })),
      );
      const bytes = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
      let at = 0;
      for (const frame of frames) {
        bytes.set(frame, at);
        at += frame.length;
      }
      burst.push(bytes);
    }
    let answered = 0;
    const pinging = (async () => {
      while (errors.length === 0) {
        await a.ping(b.id);
        answered++;
      }
    })();
    pinging.catch(() => {}); // awaited below; a failure must fail the test, not the module
    for (const bytes of burst) {
      if (!(await flooder.sendBytes(bytes).then(() => true, () => false))) break;
    }
    await waitFor(() => errors.length === 1, "the flooder to be dropped");
    await pinging;
    assert.match(errors[0].error.message, /faster than the limit of 2000 a second/);
    assert.ok(answered > 0, "the other neighbour kept answering pings during the flood");
    assert.ok(logs.some((l) => /127\.0\.0\.1 broke a limit: refusing it for 10 s/.test(l)));
    assert.ok((await a.ping(b.id)) > 0, "and still does");
    assert.deepEqual(a.peers().map((p) => p.id), [b.id]);
    // Its address is backed off: a new connection from it is refused at once.
    const again = await RawPeer.dial(a.port);
    const bye = await again.next("bye");
    assert.equal(bye?.code, "limit");
    assert.match(String(bye?.reason), /broke a limit and is refused for another \d+ s/);
    await again.close();
  } finally {
    await flooder.close();
    await closeAll([a, b]);
  }
});

Deno.test("more connections from one address than the limit are refused", async () => {
  const list = await peers(4, { maxConnectionsPerAddress: 2 });
  const [hub, x, y, z] = list;
  try {
    await x.connect("127.0.0.1", hub.port);
    await y.connect("127.0.0.1", hub.port);
    await assert.rejects(
      () => z.connect("127.0.0.1", hub.port),
      /too many connections from 127\.0\.0\.1 \(limit 2\)/,
    );
    assert.equal(hub.peers().length, 2);
  } finally {
    await closeAll(list);
  }
});

Deno.test("each offence doubles the penalty; an address we dialed is backed off too", async () => {
  const logs: string[] = [];
  const book = new AddressBook();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const admission = new Admission(listener, {
    registry: new Registry("11".repeat(16)),
    book,
    options: resolvePeerOptions({ penaltyMs: 1000, log: (line) => logs.push(line) }),
    adopt: (conn) => conn.close(),
    closing: () => false,
  });
  const accepting = admission.run();
  const dialed = { host: "127.0.0.1", port: 7000 };
  for (let i = 0; i < 3; i++) admission.penalize(fakeRecord({ direction: "outbound", dialed }));
  assert.deepEqual(logs, [
    "127.0.0.1 broke a limit: refusing it for 1 s",
    "127.0.0.1 broke a limit: refusing it for 2 s",
    "127.0.0.1 broke a limit: refusing it for 4 s",
  ]);
  assert.equal(book.get(dialed)?.failures, 3);
  const raw = await RawPeer.dial(listener.addr.port);
  const bye = await raw.next("bye");
  assert.equal(bye?.code, "limit");
  await raw.close();
  listener.close();
  await accepting;
});

Deno.test("silent sockets cannot take every slot: past the handshake cap they wait, then are refused", async () => {
  const [a, b] = await peers(2, { maxPendingHandshakes: 4, handshakeTimeoutMs: 60_000 });
  const silent = await Promise.all(Array.from({ length: 4 }, () => RawPeer.dial(a.port)));
  const waiting: RawPeer[] = [];
  try {
    await waitFor(
      () => silent.every((r) => r.raw.length >= 1),
      "the silent sockets to get a hello",
    );
    // Sixteen more from the same host wait their turn without a worker; the next is refused.
    for (let i = 0; i < 16; i++) waiting.push(await RawPeer.dial(a.port));
    const refused = await RawPeer.dial(a.port);
    const bye = await refused.next("bye");
    assert.equal(bye?.code, "full");
    assert.equal(bye?.reason, "too many connections in handshake");
    assert.deepEqual(refused.raw.length, 1, "a bye and nothing else: no hello, no peers");
    await refused.close();
    assert.equal(waiting.some((r) => r.raw.length > 0), false, "the waiting get nothing yet");
    await Promise.all(silent.map((r) => r.close()));
    await waitFor(() => waiting.filter((r) => r.raw.length > 0).length >= 4, "4 waiting to start");
    await Promise.all(waiting.map((r) => r.close()));
    // The slots free up once a's workers see the sockets end.
    let joined = false;
    for (let attempt = 0; attempt < 50 && !joined; attempt++) {
      joined = await b.connect("127.0.0.1", a.port).then(() => true, async () => {
        await new Promise((r) => setTimeout(r, 100));
        return false;
      });
    }
    assert.ok(joined, "a real peer gets in once the silent sockets are gone");
  } finally {
    await Promise.all([...silent, ...waiting].map((r) => r.close()));
    await closeAll([a, b]);
  }
});

Deno.test("a flood of silent sockets from one address locks nobody else out and learns nothing of the mesh", async () => {
  // a listens on both IPv4 and IPv6: the flood comes from 127.0.0.1, the newcomer from ::1.
  const [a] = await peers(1, { host: "::" });
  const [c, newcomer] = await peers(2);
  const flood = new Set<RawPeer>();
  const received: Frame[] = [];
  let flooding = true;
  const keepFlooding = (async () => {
    while (flooding) {
      for (const raw of flood) {
        if (!raw.ended) continue;
        flood.delete(raw);
        received.push(...raw.raw.map((body) => decodeValue(body) as Frame));
      }
      while (flooding && flood.size < 200) {
        const raw = await RawPeer.dial(a.port, true, "127.0.0.1").catch(() => null);
        if (!raw) break;
        flood.add(raw);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await c.connect("127.0.0.1", a.port); // the mesh has a peer to give away
    await waitFor(() => flood.size >= 200, "the flood to be in place", 30_000);
    const info = await newcomer.connect("::1", a.port);
    assert.equal(info.id, a.id, "the newcomer got in during the flood");
    flooding = false;
    await keepFlooding;
    for (const raw of flood) {
      await raw.close();
      received.push(...raw.raw.map((body) => decodeValue(body) as Frame));
    }
    // What any socket of the flood was sent before a handshake: hellos and byes, never a peer.
    assert.ok(received.length >= 200);
    for (const frame of received) {
      assert.ok(frame.t === "hello" || frame.t === "bye", `sent ${JSON.stringify(frame.t)}`);
    }
    for (const frame of received.filter((f) => f.t === "bye")) {
      for (const secret of [a.id, c.id, newcomer.id, String(c.port)]) {
        assert.equal(String(frame.reason).includes(secret), false, String(frame.reason));
      }
    }
  } finally {
    flooding = false;
    await keepFlooding;
    await Promise.all([...flood].map((r) => r.close()));
    await closeAll([a, c, newcomer]);
  }
});
