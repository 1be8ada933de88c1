import assert from "node:assert/strict";
import { validate } from "@meshtalk/core";
import {
  chatApp,
  type ChatWireMessage,
  hopLimitOf,
  lineId,
  MAX_GRAFT,
  MAX_LINES,
  MAX_RUNS,
  MAX_STREAMS,
  MAX_TEXT_LENGTH,
  textLength,
} from "./wire.ts";

const say = (fields: Record<string, unknown> = {}) => ({
  type: "say",
  id: "0".repeat(32),
  origin: "1".repeat(32),
  nick: "ada",
  lines: ["hi"],
  clock: 1,
  hops: 32,
  limit: 32,
  sentAt: 0,
  key: new Uint8Array(32),
  sig: new Uint8Array(64),
  epoch: 1_700_000_000_000,
  n: 1,
  ...fields,
});

const accepts = (body: unknown) => {
  validate(chatApp.schema, body);
  return true;
};
const refuses = (body: unknown) => assert.throws(() => validate(chatApp.schema, body));

Deno.test("a say's schema takes what PROTOCOL.md section 7 allows, at its limits", () => {
  assert.ok(accepts(say()));
  assert.ok(accepts(say({ to: "2".repeat(32), limit: undefined })));
  assert.ok(accepts(say({ lines: Array(MAX_LINES).fill("x".repeat(MAX_TEXT_LENGTH)) })));
  assert.ok(accepts(say({ lines: [] })), "the form (1 to 4,000 characters) is checked later");
  assert.ok(accepts(say({ hops: 255, limit: 255, clock: Number.MAX_SAFE_INTEGER })));
  assert.ok(accepts(say({ late: true })));
});

Deno.test("a say's schema refuses what is past its limits", () => {
  refuses(say({ lines: Array(MAX_LINES + 1).fill("x") }));
  refuses(say({ lines: ["x".repeat(MAX_TEXT_LENGTH + 1)] }));
  refuses(say({ id: "0".repeat(33) }));
  refuses(say({ nick: "n".repeat(33) }));
  refuses(say({ hops: 256 }));
  refuses(say({ limit: 256 }));
  refuses(say({ key: new Uint8Array(31) }));
  refuses(say({ sig: new Uint8Array(65) }));
  refuses(say({ clock: -1 }));
  refuses(say({ epoch: undefined }));
  refuses(say({ n: undefined }));
  refuses(say({ late: "yes" }));
  refuses({ ...say(), type: "shout" });
});

Deno.test("summaries, announcements and grafts are bounded", () => {
  const entry = { stream: `${"1".repeat(32)}.1700000000000`, base: 3, max: 9 };
  assert.ok(accepts({ type: "summary", streams: Array(MAX_STREAMS).fill(entry) }));
  refuses({ type: "summary", streams: Array(MAX_STREAMS + 1).fill(entry) });
  const announced = { stream: entry.stream, runs: Array(MAX_RUNS).fill({ from: 1, to: 9 }) };
  assert.ok(accepts({ type: "ihave", have: Array(MAX_STREAMS).fill(announced) }));
  refuses({ type: "ihave", have: Array(MAX_STREAMS + 1).fill(announced) });
  refuses({ type: "ihave", have: [{ ...announced, stream: "s".repeat(65) }] });
  refuses({
    type: "ihave",
    have: [{ ...announced, runs: Array(MAX_RUNS + 1).fill({ from: 1, to: 1 }) }],
  });
  refuses({ type: "ihave", have: [{ ...announced, runs: [{ from: -1, to: 1 }] }] });
  refuses({ type: "ihave", have: [entry] }); // a summary's entry is no announcement
  const want = { stream: entry.stream, n: Array(MAX_GRAFT).fill(1) };
  assert.ok(accepts({ type: "graft", want: Array(MAX_GRAFT).fill(want) }));
  refuses({ type: "graft", want: [{ ...want, n: Array(MAX_GRAFT + 1).fill(1) }] });
  refuses({ type: "graft", want: Array(MAX_GRAFT + 1).fill(want) });
  assert.ok(accepts({ type: "prune", streams: Array(MAX_GRAFT).fill(entry.stream) }));
  refuses({ type: "prune", streams: Array(MAX_GRAFT + 1).fill(entry.stream) });
  refuses({ type: "prune" });
  refuses({ type: "history-request", limit: 100 });
});

Deno.test("line ids, text length and the hop limit a say is read with", () => {
  assert.equal(lineId("ab", 0), "ab");
  assert.equal(lineId("ab", 12), "ab.12");
  assert.equal(textLength([]), 0);
  assert.equal(textLength(["ab", "", "☕é"]), 4, "UTF-16 code units");
  const limited: Pick<ChatWireMessage, "limit"> = { limit: 4 };
  assert.equal(hopLimitOf(limited, 32), 4);
  assert.equal(hopLimitOf({}, 32), 32, "absent: the receiver's own");
});
