import assert from "node:assert/strict";
import fc from "fast-check";
import { WebCryptoAesGcm, webCryptoAesGcm } from "./aes_gcm_webcrypto.ts";
import { encodeShared } from "./codec.ts";
import { ProtocolError } from "./errors.ts";
import { writeFrameHeader } from "./frame.ts";

const headerFor = (length: number) => {
  const header = new Uint8Array(4);
  writeFrameHeader(header, length);
  return header;
};

Deno.test("Web Crypto AES-256-GCM: what one side seals the other opens, 16 bytes longer", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.array(fc.uint8Array({ maxLength: 70_000 }), { minLength: 1, maxLength: 4 }),
      async (key, bodies) => {
        const sender = await webCryptoAesGcm.create(key);
        const receiver = await webCryptoAesGcm.create(key);
        assert.equal(sender.sync, false);
        // Seals overlap: their nonces follow the order of the calls.
        const sealed = await Promise.all(
          bodies.map((body) => sender.seal(body, headerFor(body.length + 16))),
        );
        for (let i = 0; i < bodies.length; i++) {
          assert.equal(sealed[i].length, bodies[i].length + 16);
          assert.deepEqual(await receiver.open(sealed[i], headerFor(sealed[i].length)), bodies[i]);
        }
        assert.equal(sender.counter, bodies.length);
      },
    ),
    { numRuns: 30 },
  );
});

Deno.test("Web Crypto AES-256-GCM: another header, another key or a flipped bit fails as decrypt-failed", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const body = new Uint8Array([1, 2, 3]);
  const sealed = await (await WebCryptoAesGcm.fromKey(key)).seal(body, headerFor(19));
  const refused = (error: unknown) =>
    error instanceof ProtocolError && error.code === "decrypt-failed" &&
    /^frame 0 /.test(error.message);
  await assert.rejects((await WebCryptoAesGcm.fromKey(key)).open(sealed, headerFor(20)), refused);
  await assert.rejects(
    (await WebCryptoAesGcm.fromKey(new Uint8Array(32))).open(sealed, headerFor(19)),
    refused,
  );
  const flipped = sealed.slice();
  flipped[0] ^= 1;
  await assert.rejects((await WebCryptoAesGcm.fromKey(key)).open(flipped, headerFor(19)), refused);
});

Deno.test("docs/PROTOCOL.md's worked example: a dialer's first ping, frame 1", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const cipher = await WebCryptoAesGcm.fromKey(key);
  await cipher.seal(new Uint8Array(5), headerFor(21)); // the auth was frame 0
  const body = encodeShared({ t: "ping", n: 1 });
  assert.deepEqual(
    [...body],
    [0x82, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa1, 0x6e, 0x01],
  );
  const header = new Uint8Array([0, 0, 0, 0x1b]);
  const sealed = await cipher.seal(body, header);
  assert.equal(sealed.length, 0x1b, "11 ciphertext bytes and 16 tag bytes");
  const plain = await crypto.subtle.decrypt(
    {
      name: "AES-GCM",
      iv: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
      additionalData: header,
    },
    await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]),
    sealed as Uint8Array<ArrayBuffer>,
  );
  assert.deepEqual(new Uint8Array(plain), body, "AES-256-GCM under the nonce and AAD stated");
});
