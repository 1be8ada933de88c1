/**
 * The cryptography of a connection: the ephemeral X25519 key agreement, the transcript both
 * signatures cover, the HKDF that turns them into one AES-256-GCM key per direction, and the
 * sealing and opening of frames with a counter nonce. Web Crypto only: every primitive used here
 * is in Deno's `crypto.subtle`. docs/PROTOCOL.md section 4 describes the same steps byte for byte.
 *
 * @module
 */
import { concatBytes } from "./bytes.ts";
import { ProtocolError } from "./errors.ts";

const encoder = new TextEncoder();
/** Prefix of the transcript hash: names the protocol so no other protocol's hash can collide. */
export const TRANSCRIPT_DOMAIN: Uint8Array = encoder.encode("meshtalk/2 handshake");
/** Prefix of what each side signs in its `auth`. */
export const AUTH_DOMAIN: Uint8Array = encoder.encode("meshtalk/2 auth");
/** HKDF `info` for the two frame keys. */
export const KEYS_INFO: Uint8Array = encoder.encode("meshtalk/2 frame keys");
/** Bytes of the AES-GCM tag at the end of every sealed frame body. */
export const TAG_BYTES = 16;
/** Role bytes in the signed auth payload: which side of the connection signed. */
export const ROLE_DIALER = 0x64; // "d"
/** See {@linkcode ROLE_DIALER}. */
export const ROLE_ACCEPTOR = 0x61; // "a"
/**
 * Frames sealed under one key before the connection must be reopened. Far below the 2^64 the
 * nonce could count, and within the 2^53 a JavaScript number counts exactly.
 */
export const MAX_FRAMES_PER_KEY = 2 ** 48;

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
export interface Session {
  /** Seals the frames this side sends. */
  send: FrameCipher;
  /** Opens the frames this side receives. */
  receive: FrameCipher;
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
 * known to anyone).
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
): Promise<Session> {
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
  const [dialerToAcceptor, acceptorToDialer] = await Promise.all([
    aesKey(okm.subarray(0, 32)),
    aesKey(okm.subarray(32, 64)),
  ]);
  okm.fill(0);
  return {
    send: new FrameCipher(dialer ? dialerToAcceptor : acceptorToDialer),
    receive: new FrameCipher(dialer ? acceptorToDialer : dialerToAcceptor),
  };
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

/**
 * AES-256-GCM over the frames of one direction. The nonce is 4 zero bytes and a 64-bit
 * big-endian count of the frames sealed before; the 4-byte length prefix is the additional data.
 * A frame altered, replayed, reordered, or following a dropped one fails to open, since its
 * position in the stream is part of its nonce.
 *
 * @example
 * ```ts
 * import { FrameCipher } from "./secure.ts";
 * const key = await crypto.subtle.importKey("raw", new Uint8Array(32), "AES-GCM", false, [
 *   "encrypt",
 *   "decrypt",
 * ]);
 * const header = new Uint8Array([0, 0, 0, 17]);
 * const sealed = await new FrameCipher(key).seal(new Uint8Array([1]), header);
 * const opened = await new FrameCipher(key).open(sealed, header); // [1]
 * ```
 */
export class FrameCipher {
  readonly #key: CryptoKey;
  #counter = 0;

  /** Wraps one direction's AES-GCM key; the counter starts at 0. */
  constructor(key: CryptoKey) {
    this.#key = key;
  }

  /** Frames sealed or opened so far: the counter of the next one. */
  get counter(): number {
    return this.#counter;
  }

  /**
   * Seals the next frame's body. The nonce is taken now, so calls may overlap: their results
   * belong on the wire in call order. `plaintext` and `header` are copied before this returns.
   */
  seal(plaintext: Uint8Array, header: Uint8Array): Promise<Uint8Array> {
    const iv = this.#nextNonce();
    return crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: header as BufferSource, tagLength: 128 },
      this.#key,
      plaintext as BufferSource,
    ).then((sealed) => new Uint8Array(sealed));
  }

  /**
   * Opens the next frame's body; rejects with a `decrypt-failed` {@linkcode ProtocolError}.
   * Calls may overlap and are matched to counters in call order. `sealed` must not be a view
   * of shared memory (Web Crypto refuses those).
   */
  open(sealed: Uint8Array, header: Uint8Array): Promise<Uint8Array> {
    const n = this.#counter;
    const iv = this.#nextNonce();
    return crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: header as BufferSource, tagLength: 128 },
      this.#key,
      sealed as BufferSource,
    ).then(
      (plain) => new Uint8Array(plain),
      () => {
        throw new ProtocolError(
          "decrypt-failed",
          `frame ${n} failed authentication: it was altered, replayed or reordered, ` +
            `or a frame before it was dropped`,
        );
      },
    );
  }

  #nextNonce(): Uint8Array<ArrayBuffer> {
    if (this.#counter >= MAX_FRAMES_PER_KEY) {
      throw new ProtocolError(
        "decrypt-failed",
        `${MAX_FRAMES_PER_KEY} frames under one key: the connection must be reopened`,
      );
    }
    const iv = new Uint8Array(12);
    const view = new DataView(iv.buffer);
    view.setUint32(4, Math.floor(this.#counter / 2 ** 32));
    view.setUint32(8, this.#counter >>> 0);
    this.#counter++;
    return iv;
  }
}

function aesKey(bytes: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", bytes as BufferSource, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
}

/** SHA-256 of `bytes` (an ordinary buffer or a view of one). */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
}
