/**
 * The key agreement of a connection: the ephemeral X25519 keys, the transcript both signatures
 * cover, and the HKDF that turns them into one AES-256-GCM key per direction, from which a
 * {@linkcode CipherSuite} makes the ciphers that seal and open frames (cipher.ts). Web Crypto
 * only: every primitive used here is in Deno's `crypto.subtle`. docs/PROTOCOL.md section 4
 * describes the same steps byte for byte.
 *
 * @module
 */
import { WebCryptoAesGcm, webCryptoAesGcm } from "./aes_gcm_webcrypto.ts";
import { concatBytes } from "./bytes.ts";
import type { Cipher, CipherSuite } from "./cipher.ts";
import { ProtocolError } from "./errors.ts";

/**
 * The Web Crypto AES-256-GCM cipher under the name it had when it was the only one.
 *
 * @example
 * ```ts
 * import { FrameCipher } from "./secure.ts";
 * const raw = new Uint8Array(32);
 * const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt"]);
 * const cipher = new FrameCipher(key);
 * ```
 */
export { WebCryptoAesGcm as FrameCipher };

const encoder = new TextEncoder();
/** Prefix of the transcript hash: names the protocol so no other protocol's hash can collide. */
export const TRANSCRIPT_DOMAIN: Uint8Array = encoder.encode("meshtalk/2 handshake");
/** Prefix of what each side signs in its `auth`. */
export const AUTH_DOMAIN: Uint8Array = encoder.encode("meshtalk/2 auth");
/** HKDF `info` for the two frame keys. */
export const KEYS_INFO: Uint8Array = encoder.encode("meshtalk/2 frame keys");
/** Role bytes in the signed auth payload: which side of the connection signed. */
export const ROLE_DIALER = 0x64; // "d"
/** See {@linkcode ROLE_DIALER}. */
export const ROLE_ACCEPTOR = 0x61; // "a"

/** A fresh X25519 key pair for one connection; its private half never leaves the worker. */
export interface Ephemeral {
  /** Non-extractable private key. */
  privateKey: CryptoKey;
  /** Raw 32-byte public key, as sent in `hello.e`. */
  publicKey: Uint8Array;
}

/**
 * Makes the ephemeral key pair a connection's `hello` announces.
 *
 * @example
 * ```ts
 * import { newEphemeral } from "./secure.ts";
 * const e = await newEphemeral();
 * console.log(e.publicKey.length); // 32
 * ```
 */
export async function newEphemeral(): Promise<Ephemeral> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey };
}

/** What the key agreement yields: one cipher per direction. */
export interface Session<C extends Cipher = WebCryptoAesGcm> {
  /** Seals the frames this side sends. */
  send: C;
  /** Opens the frames this side receives. */
  receive: C;
}

/** The two 32-byte frame keys of a connection, named by the direction they protect. */
export interface FrameKeys {
  /** Seals what the dialer sends. */
  dialerToAcceptor: Uint8Array;
  /** Seals what the acceptor sends. */
  acceptorToDialer: Uint8Array;
}

/**
 * The transcript hash of a handshake: SHA-256 over the protocol name and the hashes of both exact
 * hello bodies, the dialer's first. What each side signs, and the salt of the key derivation.
 *
 * @example
 * ```ts
 * import { transcriptOf } from "./secure.ts";
 * const transcript = await transcriptOf(new Uint8Array([1]), new Uint8Array([2]));
 * console.log(transcript.length); // 32
 * ```
 */
export async function transcriptOf(
  dialerHello: Uint8Array,
  acceptorHello: Uint8Array,
): Promise<Uint8Array> {
  // Each Web Crypto call is a hop to another thread: independent ones go out together.
  const [d, a] = await Promise.all([sha256(dialerHello), sha256(acceptorHello)]);
  return await sha256(concatBytes(TRANSCRIPT_DOMAIN, d, a));
}

/**
 * Runs the key agreement of one connection: X25519 between our ephemeral and theirs, then
 * HKDF-SHA256 from the shared secret, salted with the transcript (see {@linkcode transcriptOf}),
 * to two AES-256-GCM keys, dialer to acceptor first. Throws `bad-handshake` for a public key
 * X25519 refuses (e.g. one of small order, which would make the shared secret all zeros and
 * known to anyone). Hand the keys to {@linkcode sessionFrom}, which wipes them.
 *
 * @example
 * ```ts
 * import { deriveFrameKeys, newEphemeral, transcriptOf } from "./secure.ts";
 * const a = await newEphemeral(), b = await newEphemeral();
 * const transcript = await transcriptOf(new Uint8Array([1]), new Uint8Array([2]));
 * const ka = await deriveFrameKeys(a, b.publicKey, transcript);
 * const kb = await deriveFrameKeys(b, a.publicKey, transcript);
 * console.log(ka.dialerToAcceptor.length, ka.dialerToAcceptor[0] === kb.dialerToAcceptor[0]); // 32 true
 * ```
 */
export async function deriveFrameKeys(
  mine: Ephemeral,
  theirPublicKey: Uint8Array,
  transcript: Uint8Array,
): Promise<FrameKeys> {
  let shared: ArrayBuffer;
  try {
    const theirs = await crypto.subtle.importKey(
      "raw",
      theirPublicKey as BufferSource,
      { name: "X25519" },
      false,
      [],
    );
    shared = await crypto.subtle.deriveBits(
      { name: "X25519", public: theirs },
      mine.privateKey,
      256,
    );
  } catch (error) {
    throw new ProtocolError(
      "bad-handshake",
      `the peer's ephemeral key is unusable for X25519: ${(error as Error).message}`,
    );
  }
  if (new Uint8Array(shared).every((b) => b === 0)) {
    throw new ProtocolError("bad-handshake", "the peer's ephemeral key gives an all-zero secret");
  }
  const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
  const okm = new Uint8Array(
    await crypto.subtle.deriveBits(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: transcript as BufferSource,
        info: KEYS_INFO as BufferSource,
      },
      ikm,
      512,
    ),
  );
  return { dialerToAcceptor: okm.subarray(0, 32), acceptorToDialer: okm.subarray(32, 64) };
}

/**
 * This side's ciphers from the frame keys, made by `suite`; the keys are wiped once made.
 *
 * @example
 * ```ts
 * import { sessionFrom } from "./secure.ts";
 * import { nullCipherSuite } from "./null_cipher.ts";
 * const keys = { dialerToAcceptor: new Uint8Array(32), acceptorToDialer: new Uint8Array(32) };
 * const session = await sessionFrom(keys, true, nullCipherSuite);
 * console.log(session.send.tagBytes); // 0
 * ```
 */
export async function sessionFrom<C extends Cipher>(
  keys: FrameKeys,
  dialer: boolean,
  suite: CipherSuite<C>,
): Promise<Session<C>> {
  try {
    const [dialerToAcceptor, acceptorToDialer] = await Promise.all([
      suite.create(keys.dialerToAcceptor),
      suite.create(keys.acceptorToDialer),
    ]);
    return dialer
      ? { send: dialerToAcceptor, receive: acceptorToDialer }
      : { send: acceptorToDialer, receive: dialerToAcceptor };
  } finally {
    keys.dialerToAcceptor.fill(0);
    keys.acceptorToDialer.fill(0);
  }
}

/**
 * The key agreement and this side's Web Crypto AES-256-GCM ciphers in one step:
 * {@linkcode deriveFrameKeys}, then {@linkcode sessionFrom}.
 *
 * @example
 * ```ts
 * import { deriveSession, newEphemeral, transcriptOf } from "./secure.ts";
 * const a = await newEphemeral(), b = await newEphemeral();
 * const transcript = await transcriptOf(new Uint8Array([1]), new Uint8Array([2]));
 * const sa = await deriveSession(a, b.publicKey, transcript, true);
 * const sb = await deriveSession(b, a.publicKey, transcript, false);
 * const header = new Uint8Array(4);
 * const sealed = await sa.send.seal(new Uint8Array([42]), header);
 * console.log((await sb.receive.open(sealed, header))[0]); // 42
 * ```
 */
export async function deriveSession(
  mine: Ephemeral,
  theirPublicKey: Uint8Array,
  transcript: Uint8Array,
  dialer: boolean,
): Promise<Session<WebCryptoAesGcm>> {
  const keys = await deriveFrameKeys(mine, theirPublicKey, transcript);
  return await sessionFrom(keys, dialer, webCryptoAesGcm);
}

/**
 * The bytes a side signs in its `auth`: the domain, its role, and the transcript. The role keeps
 * a signature from being reflected back at its signer; the transcript holds both ephemeral keys,
 * so the signature is good for this one connection only.
 *
 * @example
 * ```ts
 * import { authPayload, ROLE_DIALER } from "./secure.ts";
 * console.log(authPayload(ROLE_DIALER, new Uint8Array(32)).length); // 48
 * ```
 */
export function authPayload(role: number, transcript: Uint8Array): Uint8Array {
  return concatBytes(AUTH_DOMAIN, new Uint8Array([role]), transcript);
}

/** SHA-256 of `bytes` (an ordinary buffer or a view of one). */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
}
