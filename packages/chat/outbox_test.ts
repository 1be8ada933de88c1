import assert from "node:assert/strict";
import { verifySignature } from "@meshtalk/core";
import { testAuthor } from "./_testing.ts";
import { LamportClock } from "./clock.ts";
import { ChatError } from "./errors.ts";
import { Outbox } from "./outbox.ts";
import { signedBytes } from "./signing.ts";
import type { ChatWireMessage } from "./wire.ts";

/** An outbox whose signatures wait while it is held (as it is at first), and what it signed. */
async function heldOutbox(linesPerSay?: number) {
  const author = await testAuthor("ada");
  const sign = author.sign;
  let gate: PromiseWithResolvers<void> | null = Promise.withResolvers<void>();
  author.sign = async (data) => {
    if (gate) await gate.promise;
    return await sign(data);
  };
  const clock = new LamportClock();
  const signed: ChatWireMessage[] = [];
  const logs: string[] = [];
  const outbox = new Outbox({
    author,
    hopLimit: 32,
    epoch: 1_700_000_000_000,
    clock,
    onSigned: (say) => signed.push(say),
    log: (line) => logs.push(line),
    linesPerSay,
  });
  const hold = () => gate ??= Promise.withResolvers<void>();
  const release = () => {
    gate?.resolve();
    gate = null;
  };
  return { author, clock, outbox, signed, logs, hold, release };
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("lines written while a say waits for its signature join it, clocks line by line", async () => {
  const { author, outbox, signed, release } = await heldOutbox();
  const first = outbox.write("a0");
  await turn(); // a0's say is being signed: it takes no more lines
  const joined = ["a1", "a2", "a3"].map((text) => outbox.write(text));
  assert.equal(first.line, 0);
  assert.deepEqual(joined.map((w) => w.line), [0, 1, 2]);
  assert.ok(joined.every((w) => w.say === joined[0].say), "one say");
  assert.notEqual(joined[0].say, first.say);
  release();
  await outbox.drained();
  assert.deepEqual(signed.map((say) => say.lines), [["a0"], ["a1", "a2", "a3"]]);
  assert.deepEqual(signed.map((say) => say.clock), [1, 2]); // a3 has clock 2 + 2
  // Each say is the next of this run's stream: lines joined share their say's number.
  assert.deepEqual(signed.map((say) => [say.epoch, say.n]), [[1_700_000_000_000, 1], [
    1_700_000_000_000,
    2,
  ]]);
  for (const say of signed) {
    assert.equal(say.origin, author.id);
    assert.equal(say.nick, "ada");
    assert.equal(say.hops, 32);
    assert.equal(say.limit, 32);
    assert.equal(say.to, undefined);
    assert.match(say.id, /^[0-9a-f]{32}$/);
    assert.ok(await verifySignature(author.publicKey, say.sig, signedBytes(say)));
  }
  assert.equal(outbox.sent, 4);
});

Deno.test("a line joins only while the clock has not moved since the say's last line", async () => {
  const { clock, outbox, signed, release } = await heldOutbox();
  outbox.write("held"); // being signed from the next turn
  await turn();
  outbox.write("b0");
  outbox.write("b1");
  clock.witness({ clock: 10, lines: ["seen"] }); // a say arrived: the clock moved
  const reply = outbox.write("reply");
  assert.equal(reply.line, 0, "a new say");
  assert.equal(reply.say.clock, 12);
  outbox.write("reply, again"); // the clock has not moved since "reply"
  release();
  await outbox.drained();
  assert.deepEqual(signed.map((say) => say.lines), [["held"], ["b0", "b1"], [
    "reply",
    "reply, again",
  ]]);
  assert.deepEqual(signed.map((say) => say.clock), [1, 2, 12]);
});

Deno.test("a say holds at most 64 lines and 4,000 characters", async () => {
  const { outbox, signed, release } = await heldOutbox();
  for (let i = 0; i < 65; i++) outbox.write(`line ${i}`);
  const long = "x".repeat(1500);
  for (let i = 0; i < 3; i++) outbox.write(long);
  outbox.write("x".repeat(4000));
  release();
  await outbox.drained();
  assert.deepEqual(signed.map((say) => say.lines.length), [64, 1 + 2, 1, 1]);
  assert.deepEqual(signed[1].lines, ["line 64", long, long]);
  assert.equal(signed.flatMap((say) => say.lines).length, 69, "every line, once");
  assert.deepEqual(signed.map((say) => say.clock), [1, 65, 68, 69], "line i has clock + i");
});

Deno.test("direct messages are never joined, nor joined to", async () => {
  const { outbox, signed, release } = await heldOutbox();
  const bo = "b".repeat(32);
  outbox.write("to all");
  outbox.write("to bo", bo);
  outbox.write("to bo again", bo);
  outbox.write("to all again");
  outbox.write("and more");
  release();
  await outbox.drained();
  assert.deepEqual(signed.map((say) => [say.lines, say.to]), [
    [["to all"], undefined],
    [["to bo"], bo],
    [["to bo again"], bo],
    [["to all again", "and more"], undefined],
  ]);
});

Deno.test("a new nickname starts a new say", async () => {
  const { author, outbox, signed, release } = await heldOutbox();
  outbox.write("as ada");
  author.nick = "zed";
  outbox.write("as zed");
  release();
  await outbox.drained();
  assert.deepEqual(signed.map((say) => [say.nick, say.lines]), [["ada", ["as ada"]], [
    "zed",
    ["as zed"],
  ]]);
});

Deno.test("a text over 4,000 characters is refused and nothing is written", async () => {
  const { clock, outbox, signed } = await heldOutbox();
  assert.throws(() => outbox.write("x".repeat(4001)), ChatError);
  assert.throws(() => outbox.write("x".repeat(4001)), /4001 characters is over the limit of 4000/);
  assert.equal(outbox.sent, 0);
  assert.equal(clock.now, 0);
  await outbox.drained();
  assert.deepEqual(signed, []);
});

Deno.test("drained(bytes) holds a writer only once 1,024 lines or that many characters wait", async () => {
  const { outbox, signed, hold, release } = await heldOutbox();
  const settledNow = async (promise: Promise<void>) => {
    let done = false;
    promise.then(() => done = true);
    await turn();
    return done;
  };
  outbox.write("x".repeat(100));
  assert.equal(await settledNow(outbox.drained(1000)), true, "100 characters wait: at once");
  outbox.write("y".repeat(1000));
  const held = outbox.drained(1000);
  assert.equal(await settledNow(held), false, "1,000 characters wait for their signatures");
  assert.equal(await settledNow(outbox.drained(1001)), true, "fewer than 1,001 do");
  release();
  await held;
  assert.equal(signed.length, 2);

  hold();
  for (let i = 0; i < 1023; i++) outbox.write("z");
  const quick = outbox.drained(1_000_000); // 1,023 lines wait: at once
  outbox.write("z");
  const full = outbox.drained(1_000_000);
  assert.equal(await settledNow(quick), true);
  assert.equal(await settledNow(full), false, "1,024 lines wait");
  const all = outbox.drained();
  assert.equal(await settledNow(all), false, "without bytes: until every line is signed");
  release();
  await Promise.all([full, all]);
  assert.equal(signed.flatMap((say) => say.lines).length, 1026);
  assert.equal(outbox.sent, 1026);
});

Deno.test("says are handed on in the order written, and a failed signature is reported", async () => {
  const { author, outbox, signed, logs, release } = await heldOutbox();
  const sign = author.sign;
  let calls = 0;
  author.sign = (data) => ++calls === 2 ? Promise.reject(new Error("no key")) : sign(data);
  outbox.write("first");
  await turn();
  outbox.write("second");
  outbox.write("to bo", "b".repeat(32));
  await turn();
  release();
  await outbox.drained();
  assert.deepEqual(logs, ["could not sign a chat message: no key"]);
  assert.deepEqual(signed.map((say) => say.lines), [["first"]]);
  outbox.write("third");
  release();
  await outbox.drained();
  assert.deepEqual(signed.map((say) => say.lines), [["first"], ["third"]]);
});

Deno.test("with linesPerSay, a say takes no more lines than that: 1 signs every line alone", async () => {
  for (
    const [linesPerSay, expected] of [[1, [["b0"], ["b1"], ["b2"], ["b3"]]], [2, [["b0"], [
      "b1",
      "b2",
    ], ["b3"]]]] as const
  ) {
    const { outbox, signed, release } = await heldOutbox(linesPerSay);
    outbox.write("b0");
    await turn(); // b0's say is being signed
    for (const text of ["b1", "b2", "b3"]) outbox.write(text);
    release();
    await outbox.drained();
    assert.deepEqual(signed.map((say) => say.lines), expected);
    assert.deepEqual(signed.map((say) => say.n), expected.map((_, i) => i + 1));
  }
});
