import assert from "node:assert/strict";
import { defineApp } from "./app_channel.ts";
import { generateIdentity } from "./identity.ts";
import { connectionSetup, resolvePeerOptions } from "./peer_options.ts";
import { s } from "./schema.ts";

Deno.test("unset options take their documented defaults; set ones are kept", () => {
  const options = resolvePeerOptions({ maxConnections: 4, idleTimeoutMs: 60_000 });
  const { log, ...rest } = options;
  assert.equal(typeof log, "function");
  assert.deepEqual(rest, {
    maxConnections: 4,
    maxConnectionsPerAddress: 16,
    maxFramesPerSecond: 10_000,
    maxBytesPerSecond: 2 ** 30,
    penaltyMs: 10_000,
    maxPendingHandshakes: 16,
    maxPendingPerAddress: 4,
    targetConnections: 8,
    maxFrameSize: 2 * 2 ** 20,
    maxQueuedBytes: 16 * 2 ** 20,
    handshakeTimeoutMs: 10_000,
    heartbeatIntervalMs: 2000,
    heartbeatTimeoutMs: 10_000,
    idleTimeoutMs: 60_000,
  });
  assert.equal(resolvePeerOptions({ targetConnections: 0 }).targetConnections, 0, "0 is a value");
});

Deno.test("a connection is told the apps, their bulk fields and where the peer listens", async () => {
  const identity = await generateIdentity();
  const chat = defineApp("chat", s.map({ text: s.str(100) }));
  const files = defineApp(
    "files",
    s.map({ key: s.str(64), at: s.uint(), data: s.bin(1 << 20) }),
    { bulk: { key: "key", offset: "at", data: "data" } },
  );
  const options = resolvePeerOptions({ maxFramesPerSecond: 5, maxBytesPerSecond: 0 });
  const small = connectionSetup(
    identity,
    "ada",
    { hostname: "::", port: 7000 },
    [chat],
    options,
    false,
  );
  assert.deepEqual(small.listen, { host: "", port: 7000 }, "any interface: where it is reached");
  assert.deepEqual(Object.keys(small.apps), ["chat"]);
  assert.deepEqual(small.bulk, {});
  assert.equal(small.ringBytes, 128 * 1024);
  assert.deepEqual(small.limits, { framesPerSecond: 5, bytesPerSecond: 0 });
  assert.equal("plaintext" in small, false);
  const bulk = connectionSetup(
    identity,
    "ada",
    { hostname: "10.0.0.7", port: 7000 },
    [chat, files],
    options,
    true,
  );
  assert.deepEqual(bulk.listen, { host: "10.0.0.7", port: 7000 });
  assert.deepEqual(Object.keys(bulk.bulk), ["files"]);
  assert.equal(bulk.ringBytes, 1024 * 1024);
  assert.equal(bulk.plaintext, true);
});
