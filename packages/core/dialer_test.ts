import assert from "node:assert/strict";
import { ConnectError, type ProtocolError } from "./errors.ts";
import { closeAll, peers, record } from "./testing.ts";

/** A port on loopback where nothing listens. */
function unusedPort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  probe.close();
  return probe.addr.port;
}

Deno.test("a peer refuses to connect to itself and remembers the address", async () => {
  const [a] = await peers(1);
  try {
    await assert.rejects(() => a.connect("127.0.0.1", a.port), (e: unknown) => {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.reason, "self");
      return true;
    });
    assert.equal(a.peers().length, 0);
    assert.ok(a.addresses().find((x) => x.port === a.port)?.self);
  } finally {
    await a.close();
  }
});

Deno.test("an unreachable address is a clear ConnectError", async () => {
  const [a] = await peers(1);
  const freePort = unusedPort();
  try {
    await assert.rejects(() => a.connect("127.0.0.1", freePort), (e: unknown) => {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.reason, "unreachable");
      assert.match(e.message, new RegExp(`cannot reach 127\\.0\\.0\\.1:${freePort}`));
      return true;
    });
  } finally {
    await a.close();
  }
});

Deno.test("dials of one address at once share one attempt and one connection", async () => {
  const [a, b] = await peers(2);
  try {
    const [first, second] = await Promise.all([
      a.connect("127.0.0.1", b.port),
      a.connect("127.0.0.1", b.port),
    ]);
    assert.equal(first.id, b.id);
    assert.equal(second.id, b.id);
    assert.equal(a.connections().length, 1);
    const again = await a.connect("127.0.0.1", b.port);
    assert.equal(again.id, b.id, "an address connected already resolves at once");
    assert.equal(a.connections().length, 1);
    assert.equal(a.addresses().find((x) => x.port === b.port)?.failures, 0);
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("a failed dial backs its address off in the book", async () => {
  const [a] = await peers(1);
  const freePort = unusedPort();
  try {
    const before = Date.now();
    await assert.rejects(() => a.connect("127.0.0.1", freePort), ConnectError);
    const entry = a.addresses().find((x) => x.port === freePort);
    assert.equal(entry?.failures, 1);
    assert.ok(entry.nextDialAt >= before + 375, "it waits before upkeep tries it again");
  } finally {
    await a.close();
  }
});

Deno.test("an address that speaks another protocol is named as such, once however often it is dialed", async () => {
  const web = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("hello from a web server"),
  );
  const logs: string[] = [];
  const [a] = await peers(1, { log: (line) => logs.push(line) });
  const errors = record(a, "error");
  try {
    const address = `127.0.0.1:${web.addr.port}`;
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        () => a.connect("127.0.0.1", web.addr.port),
        (error: ConnectError) => {
          assert.equal(error.message, `${address} is not a meshtalk peer (it spoke HTTP)`);
          return true;
        },
      );
    }
    assert.deepEqual(logs, [`${address} is not a meshtalk peer (it spoke HTTP)`]);
    assert.equal(errors.length, 1);
    assert.equal((errors[0].error as ProtocolError).code, "not-meshtalk");
  } finally {
    await closeAll([a]);
    await web.shutdown();
  }
});
