import assert from "node:assert/strict";
import { neighbour, signedSay, testAuthor } from "./_testing.ts";
import { SayChecks } from "./checks.ts";
import { SayVerifier, signedBytes } from "./signing.ts";
import type { ChatWireMessage } from "./wire.ts";

Deno.test("checks are handled in the order their says came, whatever order they finish in", async () => {
  const [ada, bo] = await Promise.all([testAuthor("ada"), testAuthor("bo")]);
  const finished: string[] = [];
  /** Ada's checks finish a timer later than they would: after bo's. */
  class SlowForAda extends SayVerifier {
    override async verify(say: ChatWireMessage, signed?: Uint8Array): Promise<boolean> {
      if (say.origin === ada.id) await new Promise((resolve) => setTimeout(resolve, 1));
      const ok = await super.verify(say, signed);
      finished.push(say.nick);
      return ok;
    }
  }
  const verifier = new SlowForAda(32);
  const checks = new SayChecks(verifier, () => {});
  assert.equal(await verifier.verify(await signedSay(bo)), true); // bo's key is known, ada's not
  finished.length = 0;
  const handled: string[] = [];
  const fromAda = await signedSay(ada, { lines: ["from ada"] });
  const fromBo = await signedSay(bo, { lines: ["from bo"] });
  checks.check([fromAda], ([ok]) => handled.push(`ada ${ok}`));
  checks.after(() => handled.push("a step queued between"));
  checks.check([fromBo, { ...fromBo, nick: "not bo" }], (ok) => handled.push(`bo ${ok}`));
  assert.equal(checks.idle, false);
  assert.equal(checks.checkNow(fromBo, signedBytes(fromBo)), undefined, "waits its turn");
  await checks.settled();
  assert.deepEqual(finished, ["bo", "not bo", "ada"]);
  assert.deepEqual(handled, ["ada true", "a step queued between", "bo true,false"]);
  assert.equal(checks.idle, true);
  assert.equal(checks.checkNow(fromBo, signedBytes(fromBo)), true, "known and idle: at once");
  assert.equal(checks.checkNow(fromAda, signedBytes({ ...fromAda, clock: 2 })), false);
});

Deno.test("a say whose author is new here cannot be checked at once", async () => {
  const checks = new SayChecks(new SayVerifier(32), () => {});
  const say = await signedSay(await testAuthor());
  assert.equal(checks.checkNow(say, signedBytes(say)), undefined);
});

Deno.test("past the most checks that may wait, says are refused and counted as overload", async () => {
  const ada = await testAuthor();
  const checks = new SayChecks(new SayVerifier(32), () => {}, 2);
  const says = await Promise.all([1, 2, 3, 4].map((clock) => signedSay(ada, { clock })));
  const results: boolean[][] = [];
  assert.equal(checks.check(says.slice(0, 2), (ok) => results.push(ok)), true);
  assert.equal(checks.check(says.slice(2, 3), (ok) => results.push(ok)), false);
  assert.equal(checks.overloaded, 1);
  checks.after(() => {}); // steps alone are not checks: never refused
  assert.equal(checks.check(says.slice(1), (ok) => results.push(ok)), false);
  assert.equal(checks.overloaded, 4);
  await checks.settled();
  assert.deepEqual(results, [[true, true]]);
  assert.equal(checks.check(says.slice(2), (ok) => results.push(ok)), true, "room again");
  await checks.settled();
  assert.deepEqual(results, [[true, true], [true, true]]);
});

Deno.test("malformed says fail unchecked; forgeries are counted, and the first reported", async () => {
  const ada = await testAuthor();
  const logs: string[] = [];
  const checks = new SayChecks(new SayVerifier(32), (line) => logs.push(line));
  const empty = await signedSay(ada, { lines: [] });
  const tooLong = await signedSay(ada, { lines: ["x".repeat(2001), "y".repeat(2000)] });
  let results: boolean[] = [];
  checks.check([empty, tooLong], (ok) => results = ok);
  await checks.settled();
  assert.deepEqual(results, [false, false]);
  const mallory = neighbour("m".repeat(32), "mallory");
  checks.reportForged(empty, mallory);
  checks.reportForged({ ...tooLong, lines: ["fine"] }, mallory);
  assert.equal(checks.forged, 2);
  assert.equal(logs.length, 1);
  assert.match(logs[0], /no honest author writes .* relayed by mallory \(mmmmmmmm\)/);
  const other = new SayChecks(new SayVerifier(32), (line) => logs.push(line));
  other.reportForged({ ...tooLong, lines: ["fine"] }, mallory);
  assert.match(logs[1], new RegExp(`signature does not match its origin ${ada.id.slice(0, 8)}`));
});

Deno.test("a step that throws is reported, and the steps after it still run", async () => {
  const logs: string[] = [];
  const checks = new SayChecks(new SayVerifier(32), (line) => logs.push(line));
  const ran: number[] = [];
  checks.after(() => ran.push(1));
  checks.after(() => {
    throw new Error("step bug");
  });
  checks.after(async () => {
    await Promise.resolve();
    ran.push(3);
  });
  await checks.settled();
  assert.deepEqual(ran, [1, 3]);
  assert.deepEqual(logs, ["could not handle a chat message: step bug"]);
});
