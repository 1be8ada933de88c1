import assert from "node:assert/strict";
import type { Infer } from "@meshtalk/core";
import { neighbour, signedSay, testAuthor } from "./_testing.ts";
import { SayChecks } from "./checks.ts";
import { History } from "./history.ts";
import { SeenCache } from "./seen_cache.ts";
import { SayVerifier } from "./signing.ts";
import type { ChatSchema, ChatWireMessage } from "./wire.ts";

const bo = neighbour("b".repeat(32), "bo");

/** A history at a peer, recording what it sends and what it hands on. */
async function setup() {
  const self = await testAuthor("me");
  const sent: { to: string; body: Infer<ChatSchema> }[] = [];
  const taken: ChatWireMessage[] = [];
  const logs: string[] = [];
  const seen = new SeenCache(60_000, 1000);
  const checks = new SayChecks(new SayVerifier(32), (line) => logs.push(line));
  const history = new History({
    selfId: self.id,
    channel: {
      send: (to, body) => {
        sent.push({ to, body });
        return Promise.resolve();
      },
    },
    seen,
    checks,
    onSay: (say) => taken.push(say),
  });
  return { self, history, checks, seen, sent, taken, logs };
}

/** A say with `count` lines, unsigned: what is kept and answered does not depend on it. */
const lines = (count: number, fields: Partial<ChatWireMessage> = {}): ChatWireMessage => ({
  id: crypto.randomUUID().replaceAll("-", ""),
  origin: "a".repeat(32),
  nick: "ada",
  lines: Array.from({ length: count }, (_, i) => `line ${i}`),
  clock: 1,
  hops: 30,
  limit: 32,
  sentAt: 0,
  key: new Uint8Array(32),
  sig: new Uint8Array(64),
  ...fields,
});

Deno.test("history keeps the latest says up to 100 lines, and no direct ones", async () => {
  const { history } = await setup();
  const [a, b, c, d] = [lines(40), lines(40), lines(20), lines(64)];
  for (const say of [a, b, c]) history.remember(say);
  assert.deepEqual(history.says(), [a, b, c]);
  history.remember(lines(1, { to: "c".repeat(32) }));
  assert.deepEqual(history.says(), [a, b, c], "a direct say is no history for others");
  history.remember(d); // 164 lines: the oldest go until 100 or fewer are left
  assert.deepEqual(history.says(), [c, d]);
});

Deno.test("an answer holds the latest says whose lines fit the limit, oldest first", async () => {
  const { history } = await setup();
  const [x, y, z] = [lines(1), lines(5), lines(2)];
  for (const say of [x, y, z]) history.remember(say);
  assert.deepEqual(history.answerFor(8), [x, y, z]);
  assert.deepEqual(history.answerFor(7), [y, z]);
  assert.deepEqual(history.answerFor(6), [z], "x would fit, but y does not: latest first");
  assert.deepEqual(history.answerFor(1), []);
  assert.deepEqual(history.answerFor(0), []);
});

Deno.test("an answer holds only says that could still travel a hop, or that this peer wrote", async () => {
  const { self, history } = await setup();
  const spent = lines(1, { hops: 1 });
  const fresh = lines(1, { hops: 2 });
  const mine = lines(1, { origin: self.id, hops: 1, limit: 1 });
  for (const say of [spent, fresh, mine]) history.remember(say);
  assert.deepEqual(history.answerFor(100), [fresh, mine]);
});

Deno.test("a request is answered once the says that came before it are handled", async () => {
  const { history, checks, sent } = await setup();
  const early = lines(2);
  checks.after(async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    history.remember(early); // as a say still being checked would be
  });
  history.receiveRequest(100, bo);
  assert.equal(sent.length, 0);
  await checks.settled();
  assert.deepEqual(sent, [{ to: bo.id, body: { type: "history", messages: [early] } }]);
});

Deno.test("answers are taken once per request: genuine, unseen, not this peer's, in clock order", async () => {
  const { self, history, checks, seen, sent, taken, logs } = await setup();
  const [ada, cy] = await Promise.all([testAuthor("ada"), testAuthor("cy")]);
  const later = await signedSay(ada, { clock: 7, sentAt: 1, lines: ["later"] });
  const tie = await signedSay(cy, { clock: 7, sentAt: 0, lines: ["same clock, sent first"] });
  const first = await signedSay(cy, { clock: 3, lines: ["first"] });
  const known = await signedSay(ada, { clock: 1, lines: ["seen live already"] });
  const mine = await signedSay(self, { clock: 2, lines: ["mine"] });
  const forged = { ...(await signedSay(ada, { clock: 4 })), lines: ["forged"] };
  seen.add(known.id);
  const answer = [later, tie, first, known, mine, forged];

  history.receiveAnswer(answer, bo);
  await checks.settled();
  assert.equal(taken.length, 0, "nobody asked bo");

  history.request(bo.id);
  assert.deepEqual(sent, [{ to: bo.id, body: { type: "history-request", limit: 100 } }]);
  history.receiveAnswer(answer, bo);
  await checks.settled();
  assert.deepEqual(taken.map((say) => say.lines[0]), ["first", "same clock, sent first", "later"]);
  assert.equal(checks.forged, 1);
  assert.match(logs[0], /signature does not match its origin .* relayed by bo/);

  const another = await signedSay(ada, { clock: 9, lines: ["unasked again"] });
  history.receiveAnswer([another], bo);
  await checks.settled();
  assert.equal(taken.length, 3, "one answer per request");
});

Deno.test("the answer of a neighbour that left is not taken", async () => {
  const { history, checks, taken } = await setup();
  const say = await signedSay(await testAuthor("ada"));
  history.request(bo.id);
  history.forget(bo.id);
  history.receiveAnswer([say], bo);
  await checks.settled();
  assert.deepEqual(taken, []);
});
