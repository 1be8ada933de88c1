import assert from "node:assert/strict";
import { formatBytes, plural, roundSeconds, shortId } from "./format.ts";

Deno.test("formatBytes: KiB below 1 MiB, MiB from there, one decimal", () => {
  assert.equal(formatBytes(0), "0.0 KiB");
  assert.equal(formatBytes(44), "0.0 KiB");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(2 ** 20 - 1), "1024.0 KiB");
  assert.equal(formatBytes(2 ** 20), "1.0 MiB");
  assert.equal(formatBytes(300 * 2 ** 20), "300.0 MiB");
});

Deno.test("roundSeconds: to hundredths", () => {
  assert.equal(roundSeconds(1.234), 1.23);
  assert.equal(roundSeconds(1.235001), 1.24);
  assert.equal(roundSeconds(7), 7);
});

Deno.test("shortId: the first 8 characters of a peer id", () => {
  assert.equal(shortId("0123456789abcdef0123456789abcdef"), "01234567");
});

Deno.test("plural: an s unless the count is one", () => {
  assert.equal(plural(0, "peer"), "0 peers");
  assert.equal(plural(1, "peer"), "1 peer");
  assert.equal(plural(2, "peer"), "2 peers");
});
