/**
 * The handshake of a connection, as the worker runs it (docs/PROTOCOL.md section 4): both sides
 * send a hello with a fresh X25519 key, agree on a key per direction, then each sends a sealed
 * auth that signs the transcript with its identity key. Fed the messages of the handshake in
 * order; says through its events what to send and when the remote is proven.
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import type { Cipher, CipherSuite } from "../cipher.ts";
import { encodeShared } from "../codec.ts";
import { ProtocolError } from "../errors.ts";
import { peerIdFromKey, verifySignature } from "../identity.ts";
import { type Auth, type Hello, type Message, PROTOCOL_VERSION } from "../messages.ts";
import {
  authPayload,
  deriveFrameKeys,
  type Ephemeral,
  newEphemeral,
  ROLE_ACCEPTOR,
  ROLE_DIALER,
  type Session,
  sessionFrom,
  transcriptOf,
} from "../secure.ts";
import type { EphemeralKeys, ProvenAuth } from "../worker_protocol.ts";

/** Who this side is and what it runs: what its auth says. */
export interface HandshakeSetup {
  /** Our Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** Our Ed25519 private key: signs the transcript. */
  privateKey: CryptoKey;
  nick: string;
  listen?: { host: string; port: number };
  /** Names of the apps we run. */
  apps: string[];
  /** This side dialed: it plays the dialer's part in the key agreement. */
  dialer: boolean;
  /** The peer id the dialer expects; any other is refused (`wrong-peer`). */
  expectPeer?: string;
  /** We have no room: our auth says so, and the connection ends after the handshake. */
  full?: boolean;
}

/** What a {@linkcode Handshake} asks of the layers around it. */
export interface HandshakeEvents {
  /** Our hello's exact body: to go out in the clear, before anything else. */
  hello(body: Uint8Array): void;
  /** Keys agreed: every frame after our hello, each way, is sealed with these. */
  keys(session: Session<Cipher>): void;
  /** Our auth: to go out sealed. */
  auth(auth: Auth): void;
  /** The remote proved who it is. */
  ready(remote: ProvenAuth, ephemeralKeys: EphemeralKeys): void;
}

/**
 * One side of the handshake of one connection.
 *
 * @example
 * ```ts
 * import { generateIdentity } from "../identity.ts";
 * import { nullCipherSuite } from "../null_cipher.ts";
 * import { Handshake } from "./handshake.ts";
 * const identity = await generateIdentity();
 * const handshake = new Handshake(
 *   { ...identity, nick: "me", apps: [], dialer: true },
 *   nullCipherSuite,
 *   { hello: () => {}, keys: () => {}, auth: () => {}, ready: () => {} },
 * );
 * await handshake.start(); // our hello goes out through `events.hello`
 * console.log(handshake.done); // false: the remote has proven nothing yet
 * ```
 */
export class Handshake {
  readonly #setup: HandshakeSetup;
  readonly #suite: CipherSuite;
  readonly #events: HandshakeEvents;
  #expect: "hello" | "auth" | "done" = "hello";
  #ephemeral: Ephemeral | null = null;
  #helloBody: Uint8Array = new Uint8Array(0);
  #theirEphemeral: Uint8Array = new Uint8Array(0);
  #transcript: Uint8Array = new Uint8Array(0);
  /** Our auth, held back until the remote proved the id we expect (see `#onHello`). */
  #deferredAuth: Auth | null = null;

  /** A handshake that will make its ciphers with `suite`. */
  constructor(setup: HandshakeSetup, suite: CipherSuite, events: HandshakeEvents) {
    this.#setup = setup;
    this.#suite = suite;
    this.#events = events;
  }

  /** True once the remote has proven who it is. */
  get done(): boolean {
    return this.#expect === "done";
  }

  /** Makes our ephemeral key and sends our hello. */
  async start(): Promise<void> {
    this.#ephemeral = await newEphemeral();
    const hello: Hello = { t: "hello", v: PROTOCOL_VERSION, e: this.#ephemeral.publicKey };
    this.#helloBody = encodeShared(hello).slice();
    this.#events.hello(this.#helloBody);
  }

  /**
   * Takes the next message of the handshake: the remote's hello (`body` is its exact bytes), then
   * its auth. Throws a {@linkcode ProtocolError} for anything else, or for a hello or auth that
   * fails.
   */
  async receive(message: Message, body: Uint8Array): Promise<void> {
    if (this.#expect === "done") throw unexpectedMessage(message.t, "no second handshake");
    if (message.t !== this.#expect) throw unexpectedMessage(message.t, this.#expect);
    if (message.t === "hello") await this.#onHello(message, body);
    else if (message.t === "auth") await this.#onAuth(message);
  }

  async #onHello(hello: Hello, body: Uint8Array): Promise<void> {
    if (hello.v !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        "version-mismatch",
        `peer speaks protocol version ${hello.v}, this peer speaks version ${PROTOCOL_VERSION}`,
      );
    }
    const { dialer, privateKey } = this.#setup;
    this.#theirEphemeral = hello.e;
    const theirBody = body.slice();
    const [dialerHello, acceptorHello] = dialer
      ? [this.#helloBody, theirBody]
      : [theirBody, this.#helloBody];
    this.#transcript = await transcriptOf(dialerHello, acceptorHello);
    // Signing needs only the transcript: it runs on another thread while the keys are derived.
    const [session, signature] = await Promise.all([
      deriveFrameKeys(this.#ephemeral!, hello.e, this.#transcript).then((keys) =>
        sessionFrom(keys, dialer, this.#suite)
      ),
      crypto.subtle.sign(
        "Ed25519",
        privateKey,
        authPayload(dialer ? ROLE_DIALER : ROLE_ACCEPTOR, this.#transcript) as BufferSource,
      ),
    ]);
    // Everything after our hello is sealed: our hello went out first, and the auth below is
    // sealed when its turn comes.
    this.#events.keys(session);
    const { publicKey, nick, apps, listen, full } = this.#setup;
    const auth: Auth = {
      t: "auth",
      key: publicKey,
      sig: new Uint8Array(signature),
      nick,
      apps,
      ...(listen ? { listen } : {}),
      ...(full ? { full } : {}),
    };
    this.#expect = "auth";
    // A dialer that pins the peer's id proves its own only to that peer: it answers the remote's
    // auth once checked, so a wrong peer learns nothing of who dialed and never sees it connect.
    if (this.#setup.expectPeer !== undefined) this.#deferredAuth = auth;
    else this.#events.auth(auth);
  }

  async #onAuth(auth: Auth): Promise<void> {
    const { dialer, expectPeer } = this.#setup;
    const id = await peerIdFromKey(auth.key);
    const signed = authPayload(dialer ? ROLE_ACCEPTOR : ROLE_DIALER, this.#transcript);
    if (!(await verifySignature(auth.key, auth.sig, signed))) {
      throw new ProtocolError(
        "bad-identity",
        `peer could not prove it holds the key of id ${id}: its signature of this handshake does ` +
          `not verify`,
      );
    }
    if (expectPeer !== undefined && id !== expectPeer) {
      throw new ProtocolError(
        "wrong-peer",
        `expected peer ${expectPeer} but the peer there proved to be ${id}`,
      );
    }
    if (this.#deferredAuth) {
      this.#events.auth(this.#deferredAuth);
      this.#deferredAuth = null;
    }
    this.#expect = "done";
    const { t: _t, sig: _sig, ...proven } = auth;
    this.#events.ready({ id, ...proven }, {
      mine: toHex(this.#ephemeral!.publicKey),
      theirs: toHex(this.#theirEphemeral),
    });
  }
}

/**
 * The error of a message that the protocol does not allow where it came.
 *
 * @example
 * ```ts
 * import { unexpectedMessage } from "./handshake.ts";
 * const error = unexpectedMessage("ping", "hello");
 * console.log(error.message); // got "ping" where the protocol expects hello
 * ```
 */
export function unexpectedMessage(got: string, expected: string): ProtocolError {
  return new ProtocolError(
    "unexpected-message",
    `got "${got}" where the protocol expects ${expected}`,
  );
}
