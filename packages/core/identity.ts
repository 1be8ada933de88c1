/**
 * A peer's identity: an Ed25519 key pair. The peer id is derived from the public key, so a peer
 * can prove its id by signing; the key pair lives in the peer's data dir.
 *
 * @module
 */
import { toHex } from "./bytes.ts";

/** A peer's key pair and the id derived from its public key. */
export interface Identity {
  /** Lowercase hex of the first 16 bytes of SHA-256(public key): 32 characters. */
  id: string;
  /** The raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** The private key; non-extractable once loaded. */
  privateKey: CryptoKey;
}

/** The data dir's key file could not be used. */
export class IdentityError extends Error {
  /** Builds the error with a message naming the file and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "IdentityError";
  }
}

const KEY_FILE = "identity.json";

/**
 * Derives the peer id from a raw Ed25519 public key.
 *
 * @example
 * ```ts
 * import { peerIdFromKey } from "@meshtalk/core";
 * const id = await peerIdFromKey(new Uint8Array(32)); // 32 hex characters
 * ```
 */
export async function peerIdFromKey(publicKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", publicKey as BufferSource));
  return toHex(digest.subarray(0, 16));
}

/**
 * Makes a fresh identity in memory (nothing is written).
 *
 * @example
 * ```ts
 * import { generateIdentity } from "@meshtalk/core";
 * const identity = await generateIdentity();
 * console.log(identity.id.length); // 32
 * ```
 */
export async function generateIdentity(): Promise<Identity> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { id: await peerIdFromKey(publicKey), publicKey, privateKey: pair.privateKey };
}

/**
 * Loads the identity kept in `dataDir`, creating the directory and a new key pair on first run.
 * The key file is written with mode 0600; one that other users can read is refused, as is a
 * file that does not hold a valid key.
 *
 * @example
 * ```ts
 * import { loadOrCreateIdentity } from "@meshtalk/core";
 * const dir = await Deno.makeTempDir();
 * const first = await loadOrCreateIdentity(dir);
 * const again = await loadOrCreateIdentity(dir);
 * console.log(first.id === again.id); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadOrCreateIdentity(dataDir: string): Promise<Identity> {
  const path = `${dataDir}/${KEY_FILE}`;
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (info.mode !== null && (info.mode & 0o077) !== 0) {
      throw new IdentityError(
        `${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); ` +
          `run "chmod 600 ${path}" or choose another --data-dir`,
      );
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return await createIdentityFile(path);
  }
  try {
    const stored = JSON.parse(text) as { privateKey?: unknown; publicKey?: unknown };
    if (typeof stored.privateKey !== "string" || typeof stored.publicKey !== "string") {
      throw new Error("missing fields");
    }
    const publicKey = fromBase64(stored.publicKey);
    const privateKey = await crypto.subtle.importKey(
      "pkcs8",
      fromBase64(stored.privateKey) as BufferSource,
      { name: "Ed25519" },
      false,
      ["sign"],
    );
    await checkPair(privateKey, publicKey);
    return { id: await peerIdFromKey(publicKey), publicKey, privateKey };
  } catch (error) {
    if (error instanceof IdentityError) throw error;
    throw new IdentityError(
      `${path} does not hold a valid meshtalk key pair; move it away to make a new identity`,
    );
  }
}

async function createIdentityFile(path: string): Promise<Identity> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const text = JSON.stringify({
    version: 1,
    publicKey: toBase64(publicKey),
    privateKey: toBase64(pkcs8),
  });
  // createNew: two peers started at once on one data dir must not overwrite each other's key.
  await Deno.writeTextFile(path, text + "\n", { mode: 0o600, createNew: true });
  await Deno.chmod(path, 0o600).catch(() => {}); // the umask cannot widen it, but be sure
  return { id: await peerIdFromKey(publicKey), publicKey, privateKey: pair.privateKey };
}

async function checkPair(privateKey: CryptoKey, publicKey: Uint8Array): Promise<void> {
  const probe = new TextEncoder().encode("meshtalk key check");
  const signature = await crypto.subtle.sign("Ed25519", privateKey, probe);
  if (!(await verifySignature(publicKey, new Uint8Array(signature), probe))) {
    throw new Error("public and private keys do not match");
  }
}

/**
 * Verifies an Ed25519 signature; false (not an exception) for a malformed key or signature.
 *
 * @example
 * ```ts
 * import { generateIdentity, verifySignature } from "@meshtalk/core";
 * const me = await generateIdentity();
 * const data = new Uint8Array([1, 2, 3]);
 * const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", me.privateKey, data));
 * console.log(await verifySignature(me.publicKey, sig, data)); // true
 * ```
 */
export async function verifySignature(
  publicKey: Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  try {
    // Imported keys are kept: a chat peer checks every message of a few busy authors.
    const hex = toHex(publicKey);
    let key = verifyKeys.get(hex);
    if (!key) {
      key = await crypto.subtle.importKey(
        "raw",
        publicKey as BufferSource,
        { name: "Ed25519" },
        false,
        ["verify"],
      );
      if (verifyKeys.size >= 1024) verifyKeys.delete(verifyKeys.keys().next().value!);
      verifyKeys.set(hex, key);
    }
    return await crypto.subtle.verify(
      "Ed25519",
      key,
      signature as BufferSource,
      data as BufferSource,
    );
  } catch {
    return false;
  }
}

const verifyKeys = new Map<string, CryptoKey>();

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
