import assert from "node:assert/strict";
import fc from "fast-check";
import { createVerifier } from "./ed25519.ts";
import { generateIdentity, verifySignature } from "./identity.ts";

Deno.test("a verifier agrees with Web Crypto on genuine, altered and foreign signatures", async () => {
  const [me, other] = await Promise.all([generateIdentity(), generateIdentity()]);
  const verify = await createVerifier(me.publicKey);
  const sign = async (key: CryptoKey, data: Uint8Array) =>
    new Uint8Array(await crypto.subtle.sign("Ed25519", key, data as BufferSource));
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom("genuine", "signature altered", "data altered", "other signer"),
      fc.nat(),
      async (data, change, at) => {
        let sig = await sign(change === "other signer" ? other.privateKey : me.privateKey, data);
        let signed = data;
        if (change === "signature altered") sig[at % 64] ^= 1 << (at % 8);
        if (change === "data altered") {
          signed = data.length === 0 ? new Uint8Array([0]) : data.slice();
          if (data.length > 0) signed[at % data.length] ^= 1;
        }
        const expected = await verifySignature(me.publicKey, sig, signed);
        assert.equal(expected, change === "genuine");
        assert.equal(verify(sig, signed), expected);
        sig = sig.slice(); // a verifier keeps no state between calls
        assert.equal(verify(sig, signed), expected);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("malformed keys and signatures are false, never an exception", async () => {
  const me = await generateIdentity();
  const data = new TextEncoder().encode("test/1 probe\0");
  const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", me.privateKey, data));
  const good = await createVerifier(me.publicKey);
  assert.equal(good(sig, data), true);
  assert.equal(good(sig.subarray(0, 63), data), false, "a short signature");
  assert.equal(good(new Uint8Array(0), data), false, "an empty signature");
  const keys = [
    new Uint8Array(0),
    me.publicKey.subarray(0, 31),
    new Uint8Array([...me.publicKey, 0]),
    new Uint8Array(32).fill(0xff), // 32 bytes, but no point of the curve
  ];
  for (const key of keys) {
    const verify = await createVerifier(key);
    assert.equal(verify(sig, data), false, `a key of ${key.length} bytes`);
    assert.equal(verify(sig, data), await verifySignature(key, sig, data));
  }
});

Deno.test("nothing on the connection worker's import graph loads node:crypto or this module", async () => {
  // Loading node:* boots Deno's Node compatibility in every connection worker (see ed25519.ts).
  const worker = new URL("./connection_worker.ts", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", worker.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: { kind: string; specifier: string }[];
  };
  const specifiers = graph.modules.map((m) => m.specifier);
  assert.ok(specifiers.includes(worker.href) && specifiers.length > 1, "the graph was read");
  assert.deepEqual(specifiers.filter((s) => s.endsWith("/ed25519.ts")), []);
  assert.deepEqual(graph.modules.filter((m) => m.kind === "node").map((m) => m.specifier), []);
});
