import assert from "node:assert/strict";
import { closeAll, echo, peers, randomBytes, RawPeer, record, waitFor, within } from "./testing.ts";
import { ConnectError, ProtocolError } from "./errors.ts";
import { generateIdentity, peerIdFromKey } from "./identity.ts";

const fast = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 400 };

Deno.test("two peers handshake, prove their ids and exchange an app message", async () => {
  const [a, b] = await peers(2);
  try {
    const got = Promise.withResolvers<[string, string]>();
    b.app(echo).onMessage((body, from) => got.resolve([body.text, from.id]));
    const info = await a.connect("127.0.0.1", b.port);
    assert.equal(info.id, b.id);
    assert.equal(info.nick, "p1");
    assert.equal(info.address, `127.0.0.1:${b.port}`);
    assert.equal(info.state, "open");
    assert.deepEqual(info.apps, ["echo"]);
    await waitFor(() => b.peers().length === 1, "b to see a");
    assert.equal(b.peers()[0].id, a.id);
    assert.equal(b.peers()[0].address, `127.0.0.1:${a.port}`, "b learns where a listens");
    assert.equal(a.app(echo).broadcast({ text: "hello" }), 1);
    assert.deepEqual(await within(got.promise, "the message"), ["hello", a.id]);
    assert.ok((await a.ping(b.id)) > 0);
    assert.ok(a.peers()[0].rttMs! > 0);
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("a peer that does not read is dropped once its queue passes the limit", async () => {
  const [a] = await peers(1, { maxQueuedBytes: 2 * 2 ** 20, ...fast, heartbeatTimeoutMs: 60_000 });
  const lost = record(a, "peer:disconnected");
  const raw = await RawPeer.dial(a.port, false);
  try {
    // The raw peer reads the peer's hello, answers, and never reads again.
    await raw.handshakeBlind(["echo"]);
    await waitFor(() => a.peers().length === 1, "handshake");
    const data = new Uint8Array(256 * 1024);
    let sent = 0;
    while (lost.length === 0 && sent < 4096) {
      a.app(echo).broadcast({ text: "bulk", data });
      sent++;
      if (sent % 16 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await waitFor(() => lost.length === 1, "the slow peer to be dropped");
    assert.match(lost[0].reason, /peer is not reading: \d+\.\d MiB queued for it/);
    assert.ok(sent < 4096, `dropped after ${sent} messages of 256 KiB, not never`);
  } finally {
    await raw.close();
    await a.close();
  }
});

const violations: [string, (raw: RawPeer) => Promise<void>, RegExp][] = [
  [
    "1 MiB of random bytes",
    (raw) => raw.sendBytes(randomBytes(1 << 20).map((b) => b | 1)),
    /exceeds the limit|not valid MessagePack|expected/,
  ],
  [
    "a frame over the size limit",
    (raw) => raw.sendBytes(new Uint8Array([0x7f, 0, 0, 0])),
    /frame of 2130706432 bytes exceeds the limit of \d+ bytes/,
  ],
  [
    "a body that is not MessagePack",
    (raw) => raw.sendBytes(new Uint8Array([0, 0, 0, 2, 0xc1, 0xc1])),
    /frame is not valid MessagePack/,
  ],
  [
    "a message of no known type",
    (raw) => raw.send({ t: "launch" }),
    /message\.t: "launch" is not one of/,
  ],
  [
    "a hello with a wrong field",
    (raw) => raw.send({ t: "hello", v: 2, e: 5 }),
    /message\.e: expected/,
  ],
  [
    "an app message before the handshake",
    (raw) => raw.send({ t: "ping", n: 1 }),
    /got "ping" where the protocol expects hello/,
  ],
];

for (const [name, act, pattern] of violations) {
  Deno.test(`${name} closes that connection with a clear error; others keep working`, async () => {
    const logs: string[] = [];
    const [a, b] = await peers(2, { log: (line) => logs.push(line) });
    const errors = record(a, "error");
    const raw = await RawPeer.dial(a.port);
    try {
      await b.connect("127.0.0.1", a.port);
      // b's side of the handshake can finish before a's: a broadcast needs a to know b.
      await waitFor(() => a.peers().length === 1, "a to see b");
      await act(raw);
      await waitFor(() => raw.ended, "the bad connection to close");
      await waitFor(() => errors.length === 1, "an error event");
      assert.ok(errors[0].error instanceof ProtocolError);
      assert.match(errors[0].error.message, pattern);
      assert.ok(
        logs.some((l) => l.includes("closed:") && pattern.test(l)),
        `logged: ${logs.join("\n")}`,
      );
      // The well-behaved neighbour is untouched.
      const got = Promise.withResolvers<string>();
      b.app(echo).onMessage((body) => got.resolve(body.text));
      a.app(echo).broadcast({ text: "after the garbage" });
      assert.equal(await within(got.promise, "the message"), "after the garbage");
      assert.ok((await b.ping(a.id)) > 0);
      assert.equal(a.peers().length, 1);
    } finally {
      await raw.close();
      await closeAll([a, b]);
    }
  });
}

Deno.test("identity lies are refused before any app message", async () => {
  const [a] = await peers(1);
  const errors = record(a, "error");
  const other = await generateIdentity();
  const cases: [Parameters<RawPeer["handshake"]>[1], RegExp][] = [
    // An impostor: a's own id (its public key), without a's private key.
    [{ key: a.publicKey }, new RegExp(`could not prove it holds the key of id ${a.id}`)],
    [{ key: other.publicKey }, /could not prove it holds the key/],
    [{ signWith: other.privateKey }, /could not prove it holds the key/],
    [{ wrongRole: true }, /could not prove it holds the key/],
    [{ version: 3 }, /peer speaks protocol version 3, this peer speaks version 2/],
  ];
  try {
    for (const [lie, pattern] of cases) {
      const raw = await RawPeer.dial(a.port);
      await raw.handshake(undefined, lie).catch(() => {});
      await raw.send({ t: "app", app: "echo", body: { text: "sneak" } }).catch(() => {});
      const bye = await raw.next("bye");
      assert.match(String(bye?.reason), pattern);
      await raw.close();
    }
    await waitFor(() => errors.length === cases.length, "one error per lie");
    assert.equal(a.peers().length, 0);
  } finally {
    await a.close();
  }
});

Deno.test("an app message for an app the peer does not run is refused", async () => {
  const [a] = await peers(1);
  const raw = await RawPeer.dial(a.port);
  try {
    await raw.handshake(undefined, { apps: ["files"] });
    await raw.send({ t: "app", app: "files", body: { want: 1 } });
    const bye = await raw.next("bye");
    assert.match(String(bye?.reason), /message for app "files", which this peer does not run/);
  } finally {
    await raw.close();
    await a.close();
  }
});

Deno.test("a bad frame followed by megabytes more closes that connection cleanly", async () => {
  // The worker stops reading at the bad frame while the socket still delivers: the main thread
  // must notice instead of waiting on a full ring.
  for (let round = 0; round < 5; round++) {
    const [a] = await peers(1);
    const errors = record(a, "error");
    const raw = await RawPeer.dial(a.port);
    try {
      const bytes = randomBytes(4 << 20);
      bytes.set([0, 0, 0, 2, 0xc1, 0xc1]); // a 2-byte frame that is not MessagePack
      await raw.sendBytes(bytes).catch(() => {});
      await waitFor(() => raw.ended, "the connection to close");
      await waitFor(() => errors.length === 1, "the error");
      assert.match(errors[0].error.message, /not valid MessagePack/);
    } finally {
      await raw.close();
      await a.close();
    }
  }
});

Deno.test("a relay that passes on another peer's auth cannot pose as that peer", async () => {
  // M handshakes with B under its own identity and learns B's auth (key and signature), then
  // presents them to A as its own. B's signature covers the transcript of the M-B connection,
  // with other ephemeral keys: A refuses.
  const [a, b] = await peers(2);
  const connected = record(a, "peer:connected");
  const toA = await RawPeer.dial(a.port);
  const toB = await RawPeer.dial(b.port);
  try {
    const authB = await toB.handshake(undefined, { apps: ["echo"] });
    assert.equal(await peerIdFromKey(authB.key as Uint8Array), b.id);
    await toA.handshake(undefined, {
      key: authB.key as Uint8Array,
      sig: authB.sig as Uint8Array,
      apps: ["echo"],
    }).catch(() => {});
    const bye = await toA.next("bye");
    assert.match(String(bye?.reason), new RegExp(`could not prove it holds the key of id ${b.id}`));
    assert.equal(connected.length, 0, "A never took M for B");
  } finally {
    await Promise.all([toA.close(), toB.close()]);
    await closeAll([a, b]);
  }
});

Deno.test("close() does not wait for a dial stuck in its handshake", async () => {
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) accepted.push(conn); // accepts and never speaks
  })();
  const [a] = await peers(1, { handshakeTimeoutMs: 60_000 });
  const dial = a.connect("127.0.0.1", silent.addr.port).catch((e) => e);
  await waitFor(() => accepted.length === 1, "the dial to land");
  const started = performance.now();
  await a.close();
  assert.ok(performance.now() - started < 5000, "close returned");
  assert.ok((await dial) instanceof ConnectError);
  silent.close();
  await accepting;
  for (const conn of accepted) conn.close();
});

Deno.test("a peer tells what its neighbours said of their own, and counts the bytes on its sockets", async () => {
  const [a, b, c] = await peers(3);
  try {
    assert.deepEqual(a.traffic(), { bytesIn: 0, bytesOut: 0 });
    await b.connect("127.0.0.1", a.port);
    await c.connect("127.0.0.1", b.port);
    // On a new link each side tells the other its neighbours: b names a to c.
    await waitFor(() => c.neighboursOf(b.id).length === 1, "c to hear b's neighbours");
    assert.deepEqual(c.neighboursOf(b.id), [a.id]);
    assert.deepEqual(c.neighboursOf(a.id), [], "a is not c's neighbour");

    const before = a.traffic();
    const got = Promise.withResolvers<void>();
    b.app(echo).onMessage(() => got.resolve());
    a.app(echo).broadcast({ text: "bulk", data: randomBytes(100_000) });
    await within(got.promise, "the message");
    await waitFor(() => b.traffic().bytesIn - before.bytesOut >= 100_000, "b to count it in");
    assert.ok(a.traffic().bytesOut - before.bytesOut >= 100_000, "a counts it out");
  } finally {
    await closeAll([a, b, c]);
  }
});
