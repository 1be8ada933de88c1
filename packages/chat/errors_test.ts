import assert from "node:assert/strict";
import { ChatError } from "./errors.ts";

Deno.test("a ChatError is an Error named ChatError with the message given", () => {
  const error = new ChatError('no known peer is called "bob"');
  assert.ok(error instanceof Error);
  assert.equal(error.name, "ChatError");
  assert.equal(error.message, 'no known peer is called "bob"');
  assert.match(String(error), /^ChatError: no known peer/);
});
