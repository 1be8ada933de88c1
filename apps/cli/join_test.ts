import assert from "node:assert/strict";
import type { Address, ConnectError } from "@meshtalk/core";
import { closeAll, peers, waitFor, within } from "@meshtalk/core/testing";
import { checkExpectPeer, join, type JoinOptions } from "./join.ts";
import { UsageError } from "./options.ts";

/** Fast retries, and what join told on the way. */
function recorded(options: Partial<JoinOptions> = {}) {
  const retries: { address: Address; reason: string; failures: number }[] = [];
  const givenUp: { address: Address; reason: string }[] = [];
  const joinOptions: JoinOptions = {
    backoff: { baseMs: 20, maxMs: 200, jitter: 0 },
    onRetry: (address, error, failures) =>
      retries.push({ address, reason: error.reason, failures }),
    onGiveUp: (address, error: ConnectError) => givenUp.push({ address, reason: error.reason }),
    ...options,
  };
  return { joinOptions, retries, givenUp };
}

/** A loopback port nobody listens on, for now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

const at = (port: number): Address => ({ host: "127.0.0.1", port });

Deno.test("a peer that comes up late is joined: tries go on until it answers", async () => {
  const port = freePort();
  const [a] = await peers(1);
  const late = [];
  try {
    const { joinOptions, retries, givenUp } = recorded();
    const joining = join(a, [at(port)], joinOptions);
    await waitFor(() => retries.length >= 2, "two failed tries");
    late.push(...await peers(1, { port }));
    assert.equal(await within(joining, "the join"), "joined");
    assert.deepEqual(a.peers().map((p) => p.id), [late[0].id]);
    assert.deepEqual(givenUp, []);
    assert.ok(retries.every((r) => r.reason === "unreachable" && r.address.port === port));
    assert.deepEqual(retries.map((r) => r.failures), retries.map((_, i) => i + 1));
  } finally {
    await closeAll([a, ...late]);
  }
});

Deno.test("a peer that proves another id than --expect-peer is given up at once, not retried", async () => {
  const [a, b] = await peers(2);
  try {
    // No deadline: only the refusal can end this join.
    const { joinOptions, retries, givenUp } = recorded({ expectPeer: "0".repeat(32) });
    assert.equal(await within(join(a, [at(b.port)], joinOptions), "the refusal"), "wrong-peer");
    assert.deepEqual(retries, []);
    assert.deepEqual(givenUp, [{ address: at(b.port), reason: "wrong-peer" }]);
    assert.deepEqual(a.peers(), []);
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("the peer --expect-peer names is joined", async () => {
  const [a, b] = await peers(2);
  try {
    const { joinOptions } = recorded({ expectPeer: b.id });
    assert.equal(await within(join(a, [at(b.port)], joinOptions), "the join"), "joined");
    assert.deepEqual(a.peers().map((p) => p.id), [b.id]);
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("the pinned first address is not handed to upkeep; the others are", async () => {
  const [a] = await peers(1);
  const [pinned, other] = [freePort(), freePort()];
  try {
    const { joinOptions } = recorded({ expectPeer: "0".repeat(32), giveUpAfterMs: 0 });
    const joining = join(a, [at(pinned), at(other)], joinOptions);
    // As join returns, before any dial has ended.
    const known = a.addresses().map((entry) => entry.port);
    assert.ok(known.includes(other), "the unpinned address is in the address book");
    assert.ok(!known.includes(pinned), "upkeep would dial the pinned one without its pin");
    await within(joining, "the join to give up");
  } finally {
    await closeAll([a]);
  }
});

Deno.test("with a time limit, addresses that never answer are given up: unreachable", async () => {
  const [a] = await peers(1);
  const ports = [freePort(), freePort()];
  try {
    const { joinOptions, givenUp } = recorded({ giveUpAfterMs: 100 });
    assert.equal(await within(join(a, ports.map(at), joinOptions), "giving up"), "unreachable");
    assert.deepEqual(
      givenUp.map((g) => g.address.port).sort(),
      [...ports].sort(),
      "each address given up once",
    );
    assert.ok(givenUp.every((g) => g.reason === "unreachable"));
  } finally {
    await closeAll([a]);
  }
});

Deno.test("one answering address is enough: the join is joined while others still fail", async () => {
  const [a, b] = await peers(2);
  const stop = new AbortController();
  try {
    const { joinOptions } = recorded({ signal: stop.signal });
    const outcome = await within(join(a, [at(freePort()), at(b.port)], joinOptions), "the join");
    assert.equal(outcome, "joined");
  } finally {
    stop.abort(); // the dead address would be tried for as long as the peer runs
    await closeAll([a, b]);
  }
});

Deno.test("the address of this peer itself is given up at once", async () => {
  const [a] = await peers(1);
  try {
    const { joinOptions, retries, givenUp } = recorded();
    assert.equal(await within(join(a, [at(a.port)], joinOptions), "the join"), "unreachable");
    assert.deepEqual(retries, []);
    assert.deepEqual(givenUp, [{ address: at(a.port), reason: "self" }]);
  } finally {
    await closeAll([a]);
  }
});

Deno.test("aborting the signal gives up an address waiting for its next try", async () => {
  const [a] = await peers(1);
  try {
    const stop = new AbortController();
    const { joinOptions, retries, givenUp } = recorded({
      backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 0 },
      signal: stop.signal,
    });
    const joining = join(a, [at(freePort())], joinOptions);
    await waitFor(() => retries.length === 1, "the first failed try");
    stop.abort();
    assert.equal(await within(joining, "the join to end"), "unreachable");
    assert.equal(retries.length, 1);
    assert.deepEqual(givenUp.map((g) => g.reason), ["unreachable"]);
  } finally {
    await closeAll([a]);
  }
});

Deno.test("no address: nothing to join", async () => {
  const [a] = await peers(1);
  try {
    assert.equal(await join(a, [], recorded().joinOptions), "unreachable");
  } finally {
    await closeAll([a]);
  }
});

Deno.test("checkExpectPeer: a full peer id, and a peer to check it against", () => {
  const id = "0123456789abcdef0123456789abcdef";
  checkExpectPeer(undefined, []);
  checkExpectPeer(id, [at(9000)]);
  for (const wrong of ["0123", id.toUpperCase(), `${id}0`, "x".repeat(32)]) {
    assert.throws(
      () => checkExpectPeer(wrong, [at(9000)]),
      (error) =>
        error instanceof UsageError &&
        error.message ===
          `--expect-peer needs a full peer id (32 lowercase hex characters), not "${wrong}"`,
    );
  }
  assert.throws(
    () => checkExpectPeer(id, []),
    (error) =>
      error instanceof UsageError && error.message === "--expect-peer needs a peer to join through",
  );
});
