import assert from "node:assert/strict";
import { neighbour, signedSay, type TestAuthor, testAuthor } from "./_testing.ts";
import { SayChecks } from "./checks.ts";
import { Flood } from "./flood.ts";
import { SeenCache } from "./seen_cache.ts";
import { SayVerifier } from "./signing.ts";
import type { ChatWireMessage } from "./wire.ts";

/** Three neighbours, of which `from` sent everything. */
const NEIGHBOURS = 3;
const from = neighbour("f".repeat(32), "fred");

/** A flood at a peer with three neighbours, recording what it sends and hands on, in order. */
async function setup(maxChecks?: number) {
  const self = await testAuthor("me");
  const events: string[] = [];
  const logs: string[] = [];
  const log = (line: string) => logs.push(line);
  const verifier = new SayVerifier(32);
  const checks = new SayChecks(verifier, log, maxChecks);
  const flood = new Flood({
    selfId: self.id,
    channel: {
      broadcast: (body, except) => {
        if (body.type !== "say") throw new Error("the flood sends says only");
        events.push(`send "${body.lines[0]}" hops ${body.hops} to all but ${except ?? "none"}`);
        return except === undefined ? NEIGHBOURS : NEIGHBOURS - 1;
      },
    },
    seen: new SeenCache(60_000, 1000),
    checks,
    log,
    onSay: (say, sender) => events.push(`show "${say.lines[0]}" from ${sender.nick}`),
  });
  const receive = (say: ChatWireMessage) => flood.receive({ type: "say", ...say }, from);
  /** Makes `author`'s key known, so that its says can be checked in the turn they come. */
  const know = async (author: TestAuthor) => {
    assert.equal(await verifier.verify(await signedSay(author)), true);
  };
  return { self, flood, checks, events, logs, receive, know };
}

Deno.test("a new say is relayed to every neighbour but its sender with one hop less, then handed on", async () => {
  const { flood, checks, events, receive } = await setup();
  const ada = await testAuthor("ada");
  receive(await signedSay(ada, { lines: ["hello"], hops: 5 }));
  await checks.settled();
  assert.deepEqual(events, [`send "hello" hops 4 to all but ${from.id}`, `show "hello" from fred`]);
  assert.deepEqual(flood.counts, { received: 1, duplicates: 0, relayed: 1, framesSent: 2 });
});

Deno.test("a say of this peer's own is sent to every neighbour, and counted as frames only", async () => {
  const { self, flood, events } = await setup();
  flood.send(await signedSay(self, { lines: ["mine"] }));
  assert.deepEqual(events, [`send "mine" hops 32 to all but none`]);
  assert.deepEqual(flood.counts, { received: 0, duplicates: 0, relayed: 0, framesSent: 3 });
});

Deno.test("copies of a say seen, and this peer's own says, are dropped unchecked", async () => {
  const { self, flood, checks, events, receive } = await setup();
  const ada = await testAuthor("ada");
  const say = await signedSay(ada, { lines: ["once"] });
  receive(say);
  await checks.settled();
  receive(say);
  receive({ ...say, hops: 3, lines: ["altered, but its id was seen"] });
  receive(await signedSay(self, { lines: ["an echo of mine"] }));
  await checks.settled();
  assert.equal(events.filter((e) => e.startsWith("show")).length, 1);
  assert.equal(flood.counts.duplicates, 3);
  assert.equal(checks.forged, 0, "not even checked");
});

Deno.test("a say with one hop left, or a direct one to this peer, is handed on but not relayed", async () => {
  const { self, flood, checks, events, receive, know } = await setup();
  const ada = await testAuthor("ada");
  await know(ada);
  receive(await signedSay(ada, { lines: ["last hop"], hops: 1 }));
  receive(await signedSay(ada, { lines: ["for me"], to: self.id }));
  receive(await signedSay(ada, { lines: ["for bo"], to: "b".repeat(32) }));
  await checks.settled();
  assert.deepEqual(events, [
    `show "last hop" from fred`,
    `show "for me" from fred`,
    `send "for bo" hops 31 to all but ${from.id}`,
    `show "for bo" from fred`,
  ]);
  assert.equal(flood.counts.relayed, 1);
});

Deno.test("altered, forged and malformed says are neither relayed nor handed on", async () => {
  const { flood, checks, events, logs, receive, know } = await setup();
  const [ada, mallory] = await Promise.all([testAuthor("ada"), testAuthor("mallory")]);
  await know(ada);
  const genuine = await signedSay(ada, { lines: ["pay bo"] });
  receive({ ...genuine, lines: ["pay mallory"] });
  receive(await signedSay(mallory, { origin: ada.id, lines: ["in ada's name"] }));
  receive({ ...genuine, id: "0".repeat(32), hops: 33 }); // more hops than its limit
  receive(await signedSay(ada, { lines: [] }));
  await checks.settled();
  assert.equal(events.length, 0);
  assert.equal(checks.forged, 4);
  assert.equal(flood.counts.received, 0);
  assert.equal(logs.length, 1, "the first is reported");
  receive(genuine); // a forged copy did not make the genuine one look seen
  assert.deepEqual(events, [
    `send "pay bo" hops 31 to all but ${from.id}`,
    `show "pay bo" from fred`,
  ]);
});

Deno.test("says are handled in the order they came: a say from a known author waits behind one being checked", async () => {
  const { checks, events, receive, know } = await setup();
  const [ada, bo] = await Promise.all([testAuthor("ada"), testAuthor("bo")]);
  await know(ada);
  const [fromBo, fromAda, again] = await Promise.all([
    signedSay(bo, { lines: ["bo, new here"] }),
    signedSay(ada, { lines: ["ada, known"] }),
    signedSay(ada, { lines: ["ada, once nothing waits"] }),
  ]);
  receive(fromBo);
  receive(fromAda);
  assert.equal(events.length, 0, "both wait: bo's key is being learned");
  await checks.settled();
  assert.deepEqual(events.filter((e) => e.startsWith("show")), [
    `show "bo, new here" from fred`,
    `show "ada, known" from fred`,
  ]);
  receive(again);
  assert.equal(events.at(-1), `show "ada, once nothing waits" from fred`, "in the same turn");
});

Deno.test("a copy of a say being checked is a duplicate if identical in what is signed, else checked alone", async () => {
  const { flood, checks, events, receive } = await setup();
  const bo = await testAuthor("bo");
  const say = await signedSay(bo, { lines: ["hi"], hops: 10 });
  receive(say);
  receive({ ...say, hops: 9 }); // the same say by a longer way: hops left are not signed
  receive({ ...say, lines: ["hi!"] });
  assert.equal(flood.counts.duplicates, 1);
  await checks.settled();
  assert.deepEqual(events, [`send "hi" hops 9 to all but ${from.id}`, `show "hi" from fred`]);
  assert.equal(checks.forged, 1);
  assert.equal(flood.counts.received, 1);
});

Deno.test("past the most checks that may wait, says are dropped as overload and reported once", async () => {
  const { flood, checks, events, logs, receive } = await setup(1);
  const bo = await testAuthor("bo");
  const says = await Promise.all([1, 2, 3].map((clock) => signedSay(bo, { clock })));
  for (const say of says) receive(say);
  await checks.settled();
  assert.equal(events.filter((e) => e.startsWith("show")).length, 1);
  assert.equal(checks.overloaded, 2);
  assert.deepEqual(logs, [
    "chat messages arrive faster than their signatures can be checked: dropping some",
  ]);
  assert.equal(flood.counts.received, 1);
});
