import assert from "node:assert/strict";
import { ProtocolError } from "./errors.ts";
import { parseMessage } from "./messages.ts";
import { s, validate } from "./schema.ts";

const chat = s.oneOf("type", {
  say: s.map({ text: s.str(10), tags: s.optional(s.array(s.str(5), 2)) }),
  blob: s.map({ data: s.bin(4) }),
});

Deno.test("validate keeps declared fields and drops the rest", () => {
  assert.deepEqual(validate(chat, { type: "say", text: "hi", extra: true }), {
    type: "say",
    text: "hi",
  });
  assert.deepEqual(validate(chat, { type: "say", text: "hi", tags: null }), {
    type: "say",
    text: "hi",
  });
});

Deno.test("validate copies binary fields out of the input buffer", () => {
  const shared = new Uint8Array([1, 2, 3, 4, 5]);
  const out = validate(chat, { type: "blob", data: shared.subarray(1, 3) });
  assert.ok(out.type === "blob");
  assert.deepEqual([...out.data], [2, 3]);
  shared[1] = 99;
  assert.equal(out.data[0], 2);
  assert.equal(out.data.byteOffset, 0);
  assert.equal(out.data.buffer.byteLength, 2);
});

Deno.test("validate names the path and the problem", () => {
  const cases: [unknown, RegExp][] = [
    [{ type: "say", text: 5 }, /message\.text: expected a string, got number 5/],
    [{ type: "say", text: "x".repeat(11) }, /message\.text: string of 11 characters exceeds 10/],
    [{ type: "say", text: "a", tags: ["a", "b", "c"] }, /message\.tags: 3 elements exceeds 2/],
    [{ type: "say", text: "a", tags: ["toolong"] }, /message\.tags\[0\]/],
    [{ type: "shout" }, /message\.type: "shout" is not one of say, blob/],
    [{ type: "blob", data: new Uint8Array(5) }, /message\.data: 5 bytes exceeds 4/],
    [{ type: "say" }, /message\.text: missing/],
    [[1, 2], /message: expected a map, got an array/],
    [null, /message: expected a map, got null/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(() => validate(chat, value), (e: unknown) => {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.code, "bad-message");
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("uint rejects negatives, fractions and unsafe integers", () => {
  for (const bad of [-1, 1.5, 2 ** 60, NaN, "1"]) {
    assert.throws(() => validate(s.uint(), bad), ProtocolError);
  }
  assert.equal(validate(s.uint(10), 10), 10);
});

Deno.test("core messages are checked; unknown apps and bad app bodies are refused", () => {
  assert.deepEqual(parseMessage({ t: "ping", n: 1 }, {}), { t: "ping", n: 1 });
  assert.throws(() => parseMessage({ t: "ping" }, {}), /message\.n: missing/);
  assert.throws(() => parseMessage({ t: "warp" }, {}), /message\.t: "warp" is not one of hello/);
  assert.throws(() => parseMessage({ t: "hello", v: 1 }, {}), ProtocolError);
  assert.throws(
    () => parseMessage({ t: "app", app: "files", body: {} }, { chat }),
    (e: unknown) =>
      e instanceof ProtocolError && e.code === "unknown-app" && /"files"/.test(e.message),
  );
  assert.throws(
    () => parseMessage({ t: "app", app: "chat", body: { type: "say" } }, { chat }),
    /chat message\.text/,
  );
  assert.deepEqual(
    parseMessage({ t: "app", app: "chat", body: { type: "say", text: "yo" } }, { chat }),
    {
      t: "app",
      app: "chat",
      body: { type: "say", text: "yo" },
    },
  );
});
