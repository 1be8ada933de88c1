/**
 * Ed25519 signature checks that answer synchronously, through `node:crypto`. Web Crypto's
 * `verify` is asynchronous: each check is handed to another thread and back (94 µs a check,
 * measured, against 47 µs here on one thread), and an app that checks every message it receives
 * (chat) cannot then handle a batch of them in one turn.
 *
 * Why not in `identity.ts`: the connection worker imports `identity.ts`, and a module graph that
 * imports `node:crypto` boots Deno's Node compatibility layer, ~30 ms and several MiB in every
 * connection worker (see `codec.ts`). Here `node:crypto` is loaded by a dynamic import on the
 * first {@linkcode createVerifier} call, so importing `@meshtalk/core` costs nothing until a
 * verifier is made: a peer that never checks an app's signatures never loads it. Nothing on the
 * connection worker's import graph may import this file (`ed25519_test.ts` checks it).
 *
 * @module
 */

/**
 * Checks a signature by one public key: true when `signature` is that key's Ed25519 signature
 * of `data`. It never throws: anything malformed is false.
 */
export type Ed25519Verifier = (signature: Uint8Array, data: Uint8Array) => boolean;

let nodeCrypto: Promise<typeof import("node:crypto")> | undefined;

/**
 * A synchronous verifier for the raw 32-byte Ed25519 `publicKey`. Bytes that are not an Ed25519
 * public key give a verifier that answers false. Only making it waits (the first call loads
 * `node:crypto`); every check after that answers in the same turn.
 *
 * @example
 * ```ts
 * import { createVerifier, generateIdentity } from "@meshtalk/core";
 * const me = await generateIdentity();
 * const data = new TextEncoder().encode("myapp/1 note\0hello");
 * const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", me.privateKey, data));
 * const verify = await createVerifier(me.publicKey);
 * console.log(verify(sig, data)); // true
 * ```
 */
export async function createVerifier(publicKey: Uint8Array): Promise<Ed25519Verifier> {
  const { createPublicKey, verify } = await (nodeCrypto ??= import("node:crypto"));
  if (publicKey.length !== 32) return refuse;
  let key: ReturnType<typeof createPublicKey>;
  try {
    // A JWK takes the raw key as it is: no DER wrapper to build by hand.
    const x = publicKey.toBase64({ alphabet: "base64url", omitPadding: true });
    key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
  } catch {
    return refuse;
  }
  return (signature, data) => {
    try {
      return verify(null, data, key, signature);
    } catch {
      return false;
    }
  };
}

const refuse: Ed25519Verifier = () => false;
