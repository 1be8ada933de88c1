import assert from "node:assert/strict";
import { concatBytes, peerIdFromKey } from "@meshtalk/core";
import { signedSay, testAuthor } from "./_testing.ts";
import { MAX_CLOCK, SayVerifier, signedBytes, wellFormed } from "./signing.ts";
import type { ChatWireMessage } from "./wire.ts";

/** PROTOCOL.md section 7, written out field by field. */
const u32 = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
const u64 = (n: number) => concatBytes(u32(Math.floor(n / 2 ** 32)), u32(n >>> 0));
const str = (text: string) => {
  const bytes = new TextEncoder().encode(text);
  return concatBytes(u32(bytes.length), bytes);
};

const say = (fields: Partial<ChatWireMessage> = {}): ChatWireMessage => ({
  id: "0123456789abcdef0123456789abcdef",
  origin: "fedcba9876543210fedcba9876543210",
  nick: "zoë",
  lines: ["hello", "naïve ☕"],
  clock: 2 ** 40 + 7,
  hops: 30,
  limit: 32,
  sentAt: 1_700_000_000_123,
  key: Uint8Array.from({ length: 32 }, (_, i) => i),
  sig: new Uint8Array(64).fill(9),
  epoch: 1_700_000_000_000,
  n: 2 ** 33 + 5,
  ...fields,
});

Deno.test("signed bytes are PROTOCOL.md section 7 byte for byte", () => {
  const direct = say({ to: "00112233445566778899aabbccddeeff" });
  const expected = concatBytes(
    new TextEncoder().encode("meshtalk/3 chat lines"),
    new Uint8Array([0]),
    str(direct.id),
    str(direct.origin),
    str("zoë"), // 4 bytes of UTF-8: the length is in bytes, not characters
    u32(2),
    str("hello"),
    str("naïve ☕"),
    u64(2 ** 40 + 7),
    u64(1_700_000_000_123),
    u64(32),
    str("00112233445566778899aabbccddeeff"),
    direct.key,
    u64(1_700_000_000_000),
    u64(2 ** 33 + 5),
    str(""), // no event
  );
  assert.deepEqual(signedBytes(direct), expected);
  const renamed = say({ lines: [], event: "nick" });
  const withEvent = signedBytes(renamed);
  assert.deepEqual(
    withEvent.subarray(withEvent.length - 8),
    concatBytes(u32(4), str("nick").subarray(4)),
  );
  assert.equal(new TextEncoder().encode("meshtalk/3 chat lines\0").length, 22, "the domain");
});

Deno.test("signed bytes read an absent limit as 0 and an absent recipient as the empty string", () => {
  const { limit: _limit, ...broadcast } = say();
  const bytes = signedBytes(broadcast);
  const tail = concatBytes(
    u64(0),
    u32(0),
    broadcast.key,
    u64(broadcast.epoch),
    u64(broadcast.n),
    u32(0),
  );
  assert.deepEqual(bytes.subarray(bytes.length - tail.length), tail);
});

Deno.test("signed bytes cover every field but the hops left, the late mark and the signature", () => {
  const base = signedBytes(say());
  assert.deepEqual(signedBytes(say({ hops: 3, sig: new Uint8Array(64), late: true })), base);
  const changes: Partial<ChatWireMessage>[] = [
    { id: "1123456789abcdef0123456789abcdef" },
    { origin: "eedcba9876543210fedcba9876543210" },
    { nick: "zoe" },
    { lines: ["hello"] },
    { lines: ["hello", "naïve ☕", ""] },
    { lines: ["hellonaïve ☕"] }, // same text, other line breaks
    { clock: 2 ** 40 + 8 },
    { sentAt: 1_700_000_000_124 },
    { limit: 31 },
    { to: "00112233445566778899aabbccddeeff" },
    { key: new Uint8Array(32) },
    { epoch: 1_700_000_000_001 },
    { n: 2 ** 33 + 6 },
    { event: "nick" },
  ];
  for (const change of changes) {
    assert.notDeepEqual(signedBytes(say(change)), base, JSON.stringify(Object.keys(change)));
  }
});

Deno.test("well formed: 1 to 64 lines, at most 4,000 characters in all, clocks up to 2^52", () => {
  assert.equal(wellFormed(say({ lines: [] })), false, "no lines");
  assert.equal(wellFormed(say({ lines: [], event: "nick" })), true, "a rename has none");
  assert.equal(wellFormed(say({ lines: ["x"], event: "nick" })), false, "and only then");
  assert.equal(wellFormed(say({ lines: [], event: "other" })), false, "no unknown events");
  assert.equal(wellFormed(say({ n: 0 })), false, "no place in a stream");
  assert.equal(wellFormed(say({ epoch: 0 })), false, "no stream");
  assert.equal(wellFormed(say({ n: MAX_CLOCK + 1 })), false, "a number past 2^52");
  assert.equal(wellFormed(say({ lines: [""] })), true, "one empty line");
  assert.equal(wellFormed(say({ lines: ["x".repeat(4000)] })), true);
  assert.equal(wellFormed(say({ lines: ["x".repeat(2000), "y".repeat(2000)] })), true);
  assert.equal(wellFormed(say({ lines: ["x".repeat(2000), "y".repeat(2001)] })), false);
  assert.equal(wellFormed(say({ lines: Array(64).fill("z".repeat(62)) })), true);
  assert.equal(wellFormed(say({ clock: MAX_CLOCK - 2, lines: ["a", "b"] })), true);
  assert.equal(wellFormed(say({ clock: MAX_CLOCK - 1, lines: ["a", "b"] })), false);
  assert.equal(wellFormed(say({ clock: Number.MAX_SAFE_INTEGER })), false);
});

Deno.test("a say verifies against its origin's key, and nothing altered or misattributed does", async () => {
  const [ada, bo] = await Promise.all([testAuthor("ada"), testAuthor("bo")]);
  const verifier = new SayVerifier(32);
  const genuine = await signedSay(ada, { lines: ["one", "two"], hops: 5 });
  assert.equal(verifier.verifyKnown(genuine), undefined, "a key seen for the first time");
  assert.equal(await verifier.verify(genuine), true);
  assert.equal(verifier.verifyKnown(genuine), true, "known now: answered in the same turn");
  assert.equal(verifier.verifyKnown({ ...genuine, hops: 1 }), true, "a relay lowers hops left");
  assert.equal(verifier.verifyKnown({ ...genuine, hops: 33 }), false, "not past the limit");
  assert.equal(verifier.verifyKnown({ ...genuine, lines: ["one", "three"] }), false);
  assert.equal(verifier.verifyKnown({ ...genuine, nick: "mallory" }), false);
  assert.equal(verifier.verifyKnown({ ...genuine, origin: bo.id }), false, "not bo's key");
  // Signed by bo, claiming ada as its origin.
  const claimed = await signedSay(bo, { origin: ada.id });
  assert.equal(await verifier.verify(claimed), false);
  // Signed by bo with ada's key in it: the signature is not ada's.
  const borrowed = await signedSay(bo, { key: ada.publicKey, origin: ada.id });
  assert.equal(await verifier.verify(borrowed), false);
});

Deno.test("a say with no limit is held to the receiver's own hop limit", async () => {
  const ada = await testAuthor();
  const { limit: _limit, ...unlimited } = await signedSay(ada, { hops: 8 });
  unlimited.sig = await ada.sign(signedBytes(unlimited));
  assert.equal(await new SayVerifier(8).verify(unlimited), true);
  assert.equal(await new SayVerifier(7).verify(unlimited), false);
});

Deno.test("a key that is no Ed25519 key fails its says rather than throwing", async () => {
  const ada = await testAuthor();
  const key = new Uint8Array(32).fill(0xff); // 32 bytes, but no point of the curve
  const bogus = await signedSay(ada, { key, origin: await peerIdFromKey(key) });
  const verifier = new SayVerifier(32);
  assert.equal(await verifier.verify(bogus), false);
  assert.equal(verifier.verifyKnown(bogus), false);
});
