/**
 * A peer that speaks the wire protocol by hand, written from docs/PROTOCOL.md alone (it does not
 * use secure.ts or the connection worker): a second implementation of the handshake, and a way for
 * tests to stall, lie, tamper and send garbage.
 *
 * @module
 */
import { decodeValue, decodeValues, encodeShared } from "./codec.ts";
import { encodeFrame, FrameDecoder } from "./frame.ts";
import { generateIdentity, type Identity } from "./identity.ts";

const text = new TextEncoder();

/** A decoded frame body. */
export type Frame = Record<string, unknown>;

/** How a {@linkcode RawPeer} bends the handshake. */
export interface Lie {
  /** Announce this Ed25519 public key (someone else's) instead of our own. */
  key?: Uint8Array;
  /** Sign with this private key instead of our own. */
  signWith?: CryptoKey;
  /** Speak this protocol version. */
  version?: number;
  /** Announce these apps. */
  apps?: string[];
  /** Sign as the other role (a reflected signature). */
  wrongRole?: boolean;
  /** Send this signature instead of making one (one taken from another connection). */
  sig?: Uint8Array;
}

/** One direction's AES-256-GCM key and frame counter (docs/PROTOCOL.md, "Frames after the hellos"). */
class Direction {
  counter = 0;
  constructor(readonly key: CryptoKey) {}
  nonce(): Uint8Array<ArrayBuffer> {
    const iv = new Uint8Array(12);
    new DataView(iv.buffer).setBigUint64(4, BigInt(this.counter++));
    return iv;
  }
}

/** A hand-driven peer on a raw TCP socket; it dials, so it plays the dialer. */
export class RawPeer {
  readonly conn: Deno.TcpConn;
  readonly #decoder = new FrameDecoder({ maxFrameSize: 64 * 2 ** 20 });
  readonly #frames: Frame[] = [];
  /** Every frame received, as it came off the wire (length prefix included), in order. */
  readonly wire: Uint8Array[] = [];
  /** Body bytes of every frame received (plaintext once opened), in order. */
  readonly raw: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | null = null;
  readonly #reading: Promise<void> | null;
  #send: Direction | null = null;
  #receive: Direction | null = null;
  /** Frames that arrived before keys existed but after the peer's hello: opened once keys exist. */
  #early: Uint8Array[] = [];
  #theirHello: Frame | null = null;
  /** Received frames are taken one at a time, in order. */
  #chain: Promise<void> = Promise.resolve();
  #myHello: Uint8Array | null = null;
  #ephemeral: CryptoKeyPair | null = null;
  #transcript: Uint8Array | null = null;

  private constructor(conn: Deno.TcpConn, read: boolean) {
    this.conn = conn;
    this.#reading = read ? this.#readLoop() : null;
  }

  /** Dials a peer (on loopback unless `hostname`); with `read: false` it never reads (a stalled peer). */
  static async dial(port: number, read = true, hostname = "127.0.0.1"): Promise<RawPeer> {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true); // as peers do: small handshake frames go out at once
    return new RawPeer(conn, read);
  }

  /** True once the other side closed the socket. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Sends a message: sealed once the handshake has keys, in the clear before. */
  async send(message: unknown): Promise<void> {
    await this.sendBytes(await this.frame(message));
  }

  /**
   * The frame of a message as `send` would write it (sealing uses up a counter). Once sealed, a
   * frame may carry several messages, or any plaintext bytes at all (`raw`).
   */
  async frame(message: unknown, more: unknown[] = [], raw?: Uint8Array): Promise<Uint8Array> {
    if (!this.#send) return encodeFrame(message);
    const body = raw ??
      new Uint8Array([message, ...more].flatMap((m) => [...encodeShared(m).slice()]));
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, body.length + 16);
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv: this.#send.nonce(), additionalData: header },
        this.#send.key,
        body as Uint8Array<ArrayBuffer>,
      ),
    );
    const frame = new Uint8Array(4 + sealed.length);
    frame.set(header);
    frame.set(sealed, 4);
    return frame;
  }

  async sendBytes(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
  }

  /** The next frame whose `t` is `type` (others are skipped); null if the socket ends first. */
  async next(type?: string): Promise<Frame | null> {
    while (true) {
      while (this.#frames.length > 0) {
        const frame = this.#frames.shift()!;
        if (!type || frame.t === type) return frame;
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  /**
   * Runs the handshake as the dialer (docs/PROTOCOL.md section 4): hello with a fresh X25519
   * key, keys from X25519 + HKDF over the transcript, then a sealed auth signing the transcript.
   * `lie` bends it. Resolves with the peer's auth.
   */
  async handshake(identity?: Identity, lie: Lie = {}): Promise<Frame> {
    await this.sendHello(lie.version);
    const theirs = this.#reading === null ? await this.#readOneFrame() : await this.#hello();
    if (!theirs || theirs.t !== "hello") {
      throw new Error(`expected hello, got ${JSON.stringify(theirs)}`);
    }
    await this.agree(theirs);
    const me = identity ?? await generateIdentity();
    const role = lie.wrongRole ? 0x61 : 0x64; // "a" / "d": we dial
    const signed = new Uint8Array([...text.encode("meshtalk/2 auth"), role, ...this.#transcript!]);
    const sig = lie.sig ?? new Uint8Array(
      await crypto.subtle.sign("Ed25519", lie.signWith ?? me.privateKey, signed),
    );
    await this.send({
      t: "auth",
      key: lie.key ?? me.publicKey,
      sig,
      nick: "raw",
      apps: lie.apps ?? [],
    });
    if (this.#reading === null) return theirs; // a stalled peer reads nothing more
    const auth = await this.next();
    if (auth?.t !== "auth") {
      if (auth) this.#frames.unshift(auth); // a bye, say: left for the test to read
      throw new Error(`expected auth, got ${JSON.stringify(auth)}`);
    }
    return auth;
  }

  /** The peer's hello: taken from the frames received, or read already by the test. */
  async #hello(): Promise<Frame | null> {
    if (!this.#theirHello) return await this.next();
    const at = this.#frames.indexOf(this.#theirHello);
    if (at >= 0) this.#frames.splice(at, 1);
    return this.#theirHello;
  }

  /** Sends our hello (plaintext) with a fresh ephemeral key. */
  async sendHello(version = 2): Promise<void> {
    this.#ephemeral = await crypto.subtle.generateKey({ name: "X25519" }, true, [
      "deriveBits",
    ]) as CryptoKeyPair;
    const e = new Uint8Array(await crypto.subtle.exportKey("raw", this.#ephemeral.publicKey));
    this.#myHello = encodeShared({ t: "hello", v: version, e }).slice();
    await this.sendBytes(frameOf(this.#myHello));
  }

  /** Derives the keys from the peer's hello (the first frame received) once ours is sent. */
  agree(theirs: Frame): Promise<void> {
    return this.#agree(theirs.e as Uint8Array, this.raw[0]);
  }

  async #agree(theirE: Uint8Array, theirHello: Uint8Array): Promise<void> {
    const pub = await crypto.subtle.importKey(
      "raw",
      theirE as Uint8Array<ArrayBuffer>,
      { name: "X25519" },
      false,
      [],
    );
    const shared = await crypto.subtle.deriveBits(
      { name: "X25519", public: pub },
      this.#ephemeral!.privateKey,
      256,
    );
    const hash = async (b: Uint8Array) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>));
    this.#transcript = await hash(
      new Uint8Array([
        ...text.encode("meshtalk/2 handshake"),
        ...await hash(this.#myHello!), // the dialer's hello first
        ...await hash(theirHello),
      ]),
    );
    const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
    const okm = new Uint8Array(
      await crypto.subtle.deriveBits(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: this.#transcript as Uint8Array<ArrayBuffer>,
          info: text.encode("meshtalk/2 frame keys"),
        },
        ikm,
        512,
      ),
    );
    const aes = (b: Uint8Array) =>
      crypto.subtle.importKey("raw", b as Uint8Array<ArrayBuffer>, "AES-GCM", false, [
        "encrypt",
        "decrypt",
      ]);
    this.#send = new Direction(await aes(okm.slice(0, 32))); // dialer to acceptor
    const receive = new Direction(await aes(okm.slice(32, 64)));
    // In the chain of received frames, so that frames are opened in the order they came.
    this.#chain = this.#chain.then(async () => {
      this.#receive = receive;
      const early = this.#early;
      this.#early = [];
      for (const body of early) await this.#accept(body);
    });
    await this.#chain;
  }

  /** What the peer (the acceptor) signed in its auth: to check its signature. */
  signed(): Uint8Array {
    return new Uint8Array([...text.encode("meshtalk/2 auth"), 0x61, ...this.#transcript!]);
  }

  /** For a peer that does not read: handshakes reading only the peer's hello, returns nothing. */
  async handshakeBlind(apps: string[] = []): Promise<void> {
    await this.handshake(undefined, { apps });
  }

  async #readOneFrame(): Promise<Frame | null> {
    const byte = new Uint8Array(1);
    while (true) {
      const count = await this.conn.read(byte);
      if (count === null) return null;
      const [body] = this.#decoder.push(byte);
      if (body) {
        this.raw.push(body.slice());
        return decodeValue(body.slice()) as Frame;
      }
    }
  }

  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // closed by the other side already
    }
    await this.#reading;
  }

  /** Takes one received body: in the clear before the peer's hello is answered, sealed after. */
  async #accept(body: Uint8Array): Promise<void> {
    let sealed = false;
    if (this.#receive) {
      const header = new Uint8Array(4);
      new DataView(header.buffer).setUint32(0, body.length);
      try {
        body = new Uint8Array(
          await crypto.subtle.decrypt(
            { name: "AES-GCM", iv: this.#receive.nonce(), additionalData: header },
            this.#receive.key,
            body as Uint8Array<ArrayBuffer>,
          ),
        );
        sealed = true;
      } catch {
        // A peer that gave up before it had our hello says bye in the clear.
        this.#receive.counter--;
      }
    } else if (this.raw.length > 0 && this.#ephemeral) {
      let value: Frame | null = null;
      try {
        value = decodeValue(body) as Frame;
      } catch {
        // sealed
      }
      if (value?.t !== "bye") {
        this.#early.push(body); // sealed, and we have no keys yet
        return;
      }
    }
    this.raw.push(body);
    // A sealed frame holds one or more messages, one after another.
    for (const frame of (sealed ? decodeValues(body) : [decodeValue(body)]) as Frame[]) {
      if (frame?.t === "hello" && this.raw.length === 1) this.#theirHello = frame;
      this.#frames.push(frame);
    }
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const count = await this.conn.read(buffer);
        if (count === null) break;
        for (const body of this.#decoder.push(buffer.subarray(0, count))) {
          this.wire.push(frameOf(body));
          const copy = body.slice();
          this.#chain = this.#chain.then(() => this.#accept(copy)).then(() => this.#wake?.());
        }
        await this.#chain;
      }
    } catch {
      // reset or closed by us
    }
    await this.#chain.catch(() => {});
    this.#ended = true;
    this.#wake?.();
  }
}

/** A frame (length prefix and body) around `body`. */
export function frameOf(body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, 4);
  return frame;
}
