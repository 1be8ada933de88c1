import assert from "node:assert/strict";
import { ChatError } from "./errors.ts";
import { resolveRecipient } from "./recipients.ts";

const ada = "4f1c".padEnd(32, "0");
const amy = "4f2d".padEnd(32, "0");
const bo = "b0".padEnd(32, "1");
const known: [string, string][] = [[ada, "ada"], [amy, "amy"], [bo, "bo"]];

Deno.test("a recipient by nickname, full id or an id prefix that names one peer", () => {
  assert.equal(resolveRecipient("ada", known), ada);
  assert.equal(resolveRecipient("bo", known), bo);
  assert.equal(resolveRecipient(amy, known), amy);
  assert.equal(resolveRecipient("4f1", known), ada);
  assert.equal(resolveRecipient("b", known), bo);
});

Deno.test("a full id needs no introduction", () => {
  const stranger = "c".repeat(32);
  assert.equal(resolveRecipient(stranger, []), stranger);
});

Deno.test("the later nickname of a peer listed twice is the one that counts", () => {
  const renamed: [string, string][] = [...known, [ada, "zed"]];
  assert.equal(resolveRecipient("zed", renamed), ada);
  assert.throws(() => resolveRecipient("ada", renamed), /no known peer is called "ada"/);
});

Deno.test("an empty, unknown or ambiguous recipient is a ChatError that says what to do", () => {
  assert.throws(() => resolveRecipient("", known), ChatError);
  assert.throws(() => resolveRecipient("", known), /needs a recipient: a nickname or an id/);
  assert.throws(() => resolveRecipient("nobody", known), /no known peer is called "nobody"/);
  assert.throws(
    () => resolveRecipient("4f", known),
    (error: unknown) => {
      assert.ok(error instanceof ChatError);
      assert.equal(error.message, `"4f" could be any of 4f1c0000, 4f2d0000; use an id`);
      return true;
    },
  );
});
