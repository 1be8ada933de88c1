import assert from "node:assert/strict";
import fc from "fast-check";
import { loadLibcrypto, OpenSslAesGcm, OpenSslError } from "./aes_gcm_openssl.ts";
import { WebCryptoAesGcm } from "./aes_gcm_webcrypto.ts";
import { ProtocolError } from "./errors.ts";

const ffi = loadLibcrypto() !== null;

/** A frame's 4-byte header: the length of its sealed body. */
const headerOf = (sealedLength: number) => {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, sealedLength);
  return header;
};

/** Seals `plain` with `cipher` into shared memory, in parts of `part` bytes, as the outbox does. */
function sealInParts(cipher: OpenSslAesGcm, plain: Uint8Array, part: number): Uint8Array {
  const frame = new Uint8Array(new SharedArrayBuffer(plain.length + 16 + 3)).subarray(3);
  cipher.sealStart(headerOf(plain.length + 16));
  for (let at = 0; at < plain.length; at += part) {
    const end = Math.min(plain.length, at + part);
    cipher.sealPart(plain.subarray(at, end), frame.subarray(at, end));
  }
  cipher.sealEnd(frame.subarray(plain.length));
  return frame;
}

function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

Deno.test({
  name:
    "OpenSSL and Web Crypto seal frames to the same bytes and open each other's, 0 B to past 1 MiB",
  ignore: !ffi,
  async fn() {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: 2 ** 48 - 2 }),
        fc.oneof(fc.integer({ min: 0, max: 2048 }), fc.integer({ min: 0, max: (1 << 20) + 4096 })),
        fc.integer({ min: 1, max: 70_000 }),
        async (key, counter, size, part) => {
          const plain = randomBytes(size);
          const header = headerOf(size + 16);
          const ssl = OpenSslAesGcm.fromKey(key, counter)!;
          const web = await WebCryptoAesGcm.fromKey(key, counter);
          const webOpener = await WebCryptoAesGcm.fromKey(key, counter);
          try {
            const fromSsl = sealInParts(ssl, plain, part);
            const fromWeb = await web.seal(plain, header);
            assert.deepEqual(new Uint8Array(fromSsl), fromWeb, "the same bytes on the wire");
            assert.deepEqual(await webOpener.open(new Uint8Array(fromSsl), header), plain);
            // OpenSSL opens Web Crypto's frame in place, in shared memory.
            const inRing = new Uint8Array(new SharedArrayBuffer(fromWeb.length));
            inRing.set(fromWeb);
            const opened = ssl.open(inRing, header);
            assert.deepEqual(new Uint8Array(opened), plain);
            assert.equal(opened.buffer, inRing.buffer, "opened in place");
          } finally {
            ssl.close();
          }
        },
      ),
      {
        numRuns: 60,
        // Whatever the random runs pick, these sizes always run: empty, one block, past 1 MiB.
        examples: [
          [new Uint8Array(32), 0, 0, 1],
          [new Uint8Array(32).fill(7), 2 ** 32, 16, 5],
          [new Uint8Array(32).fill(9), 2 ** 47, (1 << 20) + 4096, 65_536],
        ],
      },
    );
  },
});

Deno.test({
  name: "OpenSSL refuses any altered byte, the wrong counter or header, and counts on regardless",
  ignore: !ffi,
  fn() {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const plain = crypto.getRandomValues(new Uint8Array(300));
    const sealer = OpenSslAesGcm.fromKey(key)!;
    const frames = [0, 1].map(() => sealInParts(sealer, plain, 100));
    for (let i = 0; i < frames[0].length; i++) {
      const opener = OpenSslAesGcm.fromKey(key)!;
      const altered = frames[0].slice();
      altered[i] ^= 0x40;
      assert.throws(() => opener.open(altered, headerOf(316)), ProtocolError, `byte ${i}`);
      opener.close();
    }
    const opener = OpenSslAesGcm.fromKey(key)!;
    assert.throws(() => opener.open(frames[1].slice(), headerOf(316)), /frame 0 failed/);
    assert.throws(() => opener.open(frames[0].slice(), headerOf(317)), /frame 1 failed/);
    const again = OpenSslAesGcm.fromKey(key)!;
    assert.deepEqual(again.open(frames[0].slice(), headerOf(316)), plain);
    assert.deepEqual(again.open(frames[1].slice(), headerOf(316)), plain);
    assert.throws(() => again.open(new Uint8Array(10), headerOf(10)), ProtocolError, "too short");
    for (const cipher of [sealer, opener, again]) cipher.close();
    assert.throws(() => sealer.sealStart(headerOf(16)), OpenSslError);
    assert.throws(() => OpenSslAesGcm.fromKey(new Uint8Array(16)), RangeError);
  },
});

Deno.test("without --allow-ffi there is no OpenSSL, and no prompt: callers fall back", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `import { loadLibcrypto, openSslAesGcm } from "${new URL(
      "./aes_gcm_openssl.ts",
      import.meta.url,
    )}";\n` +
      `console.log(JSON.stringify([loadLibcrypto(), openSslAesGcm()]));\n`,
  );
  try {
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--allow-read", script],
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
    assert.ok(success);
    assert.equal(new TextDecoder().decode(stdout).trim(), "[null,null]");
  } finally {
    await Deno.remove(script);
  }
});
