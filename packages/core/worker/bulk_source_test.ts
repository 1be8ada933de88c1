import assert from "node:assert/strict";
import { decodeValue } from "../codec.ts";
import type { AppMessage } from "../messages.ts";
import { BulkSource } from "./bulk_source.ts";

const bulk = { blob: { data: "data", key: "file", offset: "at" } };
const message: AppMessage = { t: "app", app: "blob", body: { file: "f", at: 3, note: "hi" } };

Deno.test("the bulk field is read from the file range, as a bin32 at the end of the body", async () => {
  const dir = await Deno.makeTempDir();
  const source = new BulkSource(bulk, (reason) => assert.fail(reason));
  try {
    const bytes = crypto.getRandomValues(new Uint8Array(1000));
    await Deno.writeFile(`${dir}/a`, bytes);
    const plain = source.plaintext(message, { path: `${dir}/a`, offset: 3, length: 10 })!;
    const header = plain.length - 10 - 5;
    assert.deepEqual([...plain.subarray(header, header + 5)], [0xc6, 0, 0, 0, 10], "bin32 of 10");
    assert.deepEqual(decodeValue(plain), {
      ...message,
      body: { ...message.body, data: bytes.subarray(3, 13) },
    });
    // The file stays open between pieces, and is looked at again when it has grown.
    await Deno.writeFile(`${dir}/a`, new Uint8Array(500), { append: true });
    const later = source.plaintext(message, { path: `${dir}/a`, offset: 1200, length: 300 })!;
    assert.equal((decodeValue(later) as AppMessage).body.data instanceof Uint8Array, true);
  } finally {
    source.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file that cannot be read is reported and the message skipped", async () => {
  const dir = await Deno.makeTempDir();
  const reasons: string[] = [];
  const source = new BulkSource(bulk, (reason) => reasons.push(reason));
  try {
    await Deno.writeFile(`${dir}/short`, new Uint8Array(10));
    assert.equal(source.plaintext(message, { path: `${dir}/missing`, offset: 0, length: 1 }), null);
    assert.equal(source.plaintext(message, { path: `${dir}/short`, offset: 5, length: 10 }), null);
    assert.match(reasons[0], /^cannot send from .*missing: /);
    assert.match(reasons[1], /^cannot send from .*short: .*holds 10 bytes, fewer than 5 \+ 10$/);
  } finally {
    source.close();
    await Deno.remove(dir, { recursive: true });
  }
});
