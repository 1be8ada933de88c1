import assert from "node:assert/strict";
import { encodeShared } from "../codec.ts";
import { ProtocolError } from "../errors.ts";
import type { Message } from "../messages.ts";
import { s } from "../schema.ts";
import { BulkSinks } from "./bulk_sink.ts";
import { PieceVerifier } from "./piece_verifier.ts";
import { Router } from "./router.ts";
import { InboundLimits } from "./token_bucket.ts";

const apps = { chat: s.map({ text: s.str(100) }) };

/** A router whose handshake, delivery and pongs are recorded. */
function router(options: { done?: boolean; framesPerSecond?: number } = {}) {
  const seen = {
    handshake: [] as Message[],
    delivered: [] as Message[],
    waits: [] as Promise<void>[],
    pongs: [] as number[],
    byes: [] as Message[],
  };
  const stopping = new AbortController();
  const handshake = {
    done: options.done ?? true,
    receive: (message: Message) => {
      seen.handshake.push(message);
      return Promise.resolve();
    },
  };
  const out = new Router({
    apps,
    limits: new InboundLimits({ framesPerSecond: options.framesPerSecond ?? 0, bytesPerSecond: 0 }),
    handshake,
    sinks: { lift: () => undefined, store: () => Promise.resolve() },
    delivery: { push: (m) => void seen.delivered.push(m), after: (p) => void seen.waits.push(p) },
    pong: (n) => void seen.pongs.push(n),
    bye: (bye) => {
      seen.byes.push(bye);
      stopping.abort();
    },
    signal: stopping.signal,
  });
  return { router: out, seen, handshake };
}

const body = (...messages: unknown[]) =>
  new Uint8Array(messages.flatMap((m) => [...encodeShared(m)]));
const say = (text: string) => ({ t: "app", app: "chat", body: { text } });

Deno.test("the messages of an opened frame are delivered in order; pings are answered here", () => {
  const { router: r, seen } = router();
  assert.equal(r.frame(body(say("a"), { t: "ping", n: 9 }, say("b")), true), undefined, "no await");
  assert.deepEqual(seen.delivered, [say("a"), say("b")]);
  assert.deepEqual(seen.pongs, [9]);
});

Deno.test("before the handshake is done its messages go to it; peers and bye are delivered", async () => {
  const { router: r, seen } = router({ done: false });
  await r.frame(body({ t: "hello", v: 2, e: new Uint8Array(32) }), false);
  await r.frame(body(say("too early")), false);
  assert.deepEqual(seen.handshake.map((m) => m.t), ["hello", "app"], "the handshake refuses it");
  await r.frame(body({ t: "peers", peers: [] }), false);
  await r.frame(body({ t: "bye", reason: "full", code: "full" }, say("after")), true);
  assert.deepEqual(seen.delivered.map((m) => m.t), ["peers", "bye"]);
  assert.equal(seen.byes.length, 1);
  assert.equal(seen.handshake.length, 2, "nothing after the bye was routed");
});

Deno.test("a second hello or auth after the handshake goes to the handshake, which refuses it", async () => {
  const { router: r, seen } = router({ done: true });
  await r.frame(body({ t: "hello", v: 2, e: new Uint8Array(32) }), true);
  assert.deepEqual(seen.handshake.map((m) => m.t), ["hello"]);
  assert.deepEqual(seen.delivered, []);
});

Deno.test("what is not MessagePack, or not a message, is refused", () => {
  const { router: r } = router();
  const isBadMsgpack = (e: unknown) => e instanceof ProtocolError && e.code === "bad-msgpack";
  const cut = body(say("x")).subarray(0, 5);
  assert.throws(() => r.frame(cut, true), isBadMsgpack);
  assert.throws(
    () => r.frame(body(say("x"), say("y")), false),
    isBadMsgpack,
    "one value in the clear",
  );
  assert.throws(
    () => r.frame(body({ t: "app", app: "nope", body: {} }), true),
    (e: unknown) => e instanceof ProtocolError && e.code === "unknown-app",
  );
});

Deno.test("every message of a frame counts against the rate limit", () => {
  const { router: r } = router({ framesPerSecond: 2 });
  assert.throws(
    () => r.frame(body(...Array.from({ length: 6 }, () => say("x"))), true),
    /peer sent messages faster than the limit of 2 a second/,
  );
});

Deno.test("bulk bytes go to their sink and the message waits for the write", async () => {
  const dir = await Deno.makeTempDir();
  const blobApps = { blob: s.map({ file: s.str(8), at: s.uint(), data: s.bin(100) }) };
  const sinks = new BulkSinks(
    { blob: { data: "data", key: "file", offset: "at" } },
    blobApps,
    new PieceVerifier(),
  );
  sinks.set({ type: "sink", app: "blob", key: "f", path: `${dir}/f` });
  const delivered: Message[] = [];
  const waits: Promise<void>[] = [];
  const r = new Router({
    apps: blobApps,
    limits: new InboundLimits({ framesPerSecond: 0, bytesPerSecond: 0 }),
    handshake: { done: true, receive: () => Promise.resolve() },
    sinks,
    delivery: { push: (m) => void delivered.push(m), after: (p) => void waits.push(p) },
    pong: () => {},
    bye: () => {},
    signal: new AbortController().signal,
  });
  try {
    r.frame(
      body({ t: "app", app: "blob", body: { file: "f", at: 1, data: new Uint8Array([4]) } }),
      true,
    );
    await Promise.all(waits);
    assert.equal(waits.length, 1);
    assert.deepEqual(delivered, [{
      t: "app",
      app: "blob",
      body: { file: "f", at: 1 },
      stored: { path: `${dir}/f`, offset: 1, length: 1, status: "written" },
    }]);
    assert.deepEqual(await Deno.readFile(`${dir}/f`), new Uint8Array([0, 4]));
  } finally {
    sinks.close();
    await Deno.remove(dir, { recursive: true });
  }
});
