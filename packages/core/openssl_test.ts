import assert from "node:assert/strict";
import fc from "fast-check";
import { AesGcm, loadLibcrypto, OpenSslError, TAG_BYTES } from "./openssl.ts";

const ffi = loadLibcrypto() !== null;
const nonceOf = (counter: bigint) => {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, counter);
  return nonce;
};

Deno.test({
  name:
    "OpenSSL and Web Crypto seal to the same bytes and open each other's, 0 bytes to past 1 MiB",
  ignore: !ffi,
  async fn() {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 0n, max: 2n ** 48n }),
        fc.oneof(fc.integer({ min: 0, max: 2048 }), fc.integer({ min: 0, max: (1 << 20) + 4096 })),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        async (key, counter, size, header) => {
          const plain = new Uint8Array(size);
          for (let at = 0; at < size; at += 65536) {
            crypto.getRandomValues(plain.subarray(at, at + 65536));
          }
          const nonce = nonceOf(counter);
          const web = await crypto.subtle.importKey("raw", key, "AES-GCM", false, [
            "encrypt",
            "decrypt",
          ]);
          const fromWeb = new Uint8Array(
            await crypto.subtle.encrypt(
              { name: "AES-GCM", iv: nonce, additionalData: header },
              web,
              plain,
            ),
          );
          const sealer = AesGcm.create(key, "seal")!;
          const opener = AesGcm.create(key, "open")!;
          try {
            // Into shared memory, as into a connection's ring.
            const fromSsl = new Uint8Array(new SharedArrayBuffer(size + TAG_BYTES));
            sealer.seal(nonce, header, plain, fromSsl);
            assert.deepEqual(new Uint8Array(fromSsl), fromWeb);
            const opened = new Uint8Array(size);
            assert.equal(opener.open(nonce, header, fromWeb, opened), true);
            assert.deepEqual(opened, plain);
            const back = new Uint8Array(
              await crypto.subtle.decrypt(
                { name: "AES-GCM", iv: nonce, additionalData: header },
                web,
                new Uint8Array(fromSsl),
              ),
            );
            assert.deepEqual(back, plain);
          } finally {
            sealer.free();
            opener.free();
          }
        },
      ),
      { numRuns: 60 },
    );
  },
});

Deno.test({
  name: "OpenSSL refuses any altered byte, another nonce or another header",
  ignore: !ffi,
  fn() {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const sealer = AesGcm.create(key, "seal")!;
    const opener = AesGcm.create(key, "open")!;
    const plain = crypto.getRandomValues(new Uint8Array(300));
    const header = new Uint8Array([0, 0, 1, 60]);
    const sealed = new Uint8Array(316);
    sealer.seal(nonceOf(7n), header, plain, sealed);
    const out = new Uint8Array(300);
    for (let i = 0; i < sealed.length; i++) {
      const altered = sealed.slice();
      altered[i] ^= 0x40;
      assert.equal(opener.open(nonceOf(7n), header, altered, out), false, `byte ${i}`);
    }
    assert.equal(opener.open(nonceOf(8n), header, sealed, out), false);
    assert.equal(opener.open(nonceOf(7n), new Uint8Array([0, 0, 1, 61]), sealed, out), false);
    assert.equal(opener.open(nonceOf(7n), header, sealed.subarray(0, 10), out), false);
    assert.equal(opener.open(nonceOf(7n), header, sealed, out), true);
    // In place: the sealed bytes become the plaintext.
    assert.equal(opener.open(nonceOf(7n), header, sealed, sealed), true);
    assert.deepEqual(sealed.subarray(0, 300), plain);
    sealer.free();
    opener.free();
    assert.throws(() => sealer.seal(nonceOf(1n), header, plain, new Uint8Array(316)), OpenSslError);
    assert.throws(() => AesGcm.create(new Uint8Array(16), "seal"), RangeError);
  },
});

Deno.test("without --allow-ffi there is no OpenSSL, and no prompt: callers fall back", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `import { loadLibcrypto } from "${new URL("./openssl.ts", import.meta.url)}";\n` +
      `console.log(JSON.stringify(loadLibcrypto()));\n`,
  );
  try {
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--allow-read", script],
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
    assert.ok(success);
    assert.equal(new TextDecoder().decode(stdout).trim(), "null");
  } finally {
    await Deno.remove(script);
  }
});
