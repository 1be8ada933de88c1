import assert from "node:assert/strict";
import { formatBytes, plural, roundSeconds, shortId } from "./format.ts";

Deno.test("formatBytes: whole bytes below 1 KiB, then KiB, MiB, GiB with one decimal", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(44), "44 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1024), "1.0 KiB");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(2 ** 20 - 1), "1024.0 KiB");
  assert.equal(formatBytes(2 ** 20), "1.0 MiB");
  assert.equal(formatBytes(300 * 2 ** 20), "300.0 MiB");
  assert.equal(formatBytes(4 * 2 ** 30), "4.0 GiB");
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
