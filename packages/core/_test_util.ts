// Test helpers: a peer that speaks the wire protocol by hand, from docs/PROTOCOL.md, so tests can
// stall, lie and send garbage; and a poller for conditions reached asynchronously.
import { decodeValue, encodeShared } from "./codec.ts";
import { encodeFrame, FrameDecoder } from "./frame.ts";
import { generateIdentity, type Identity } from "./identity.ts";

const AUTH_DOMAIN = new TextEncoder().encode("meshtalk/1 auth");

export type Frame = Record<string, unknown>;

/** `length` random bytes (getRandomValues gives at most 64 KiB a call). */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

/** Resolves once `condition()` is true; rejects with `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves as `promise` does; rejects with `what` after `timeoutMs`, so a lost message fails a test. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A hand-driven peer on a raw TCP socket. */
export class RawPeer {
  readonly conn: Deno.TcpConn;
  readonly #decoder = new FrameDecoder({ maxFrameSize: 64 * 2 ** 20 });
  readonly #frames: Frame[] = [];
  /** Body bytes of every frame received, in order, for hashing a hello. */
  readonly raw: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | null = null;
  readonly #reading: Promise<void> | null;

  private constructor(conn: Deno.TcpConn, read: boolean) {
    this.conn = conn;
    this.#reading = read ? this.#readLoop() : null;
  }

  /** Dials a peer; with `read: false` it never reads (a stalled peer). */
  static async dial(port: number, read = true): Promise<RawPeer> {
    return new RawPeer(await Deno.connect({ hostname: "127.0.0.1", port }), read);
  }

  /** True once the other side closed the socket. */
  get ended(): boolean {
    return this.#ended;
  }

  async send(message: unknown): Promise<void> {
    await this.sendBytes(encodeFrame(message));
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
   * Runs the handshake as the dialer. `lie` bends it: claim another id, sign with another key,
   * or speak another version.
   */
  async handshake(
    identity?: Identity,
    lie: { id?: string; signWith?: CryptoKey; version?: number; apps?: string[] } = {},
  ): Promise<Frame> {
    const me = identity ?? await generateIdentity();
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const hello = {
      t: "hello",
      v: lie.version ?? 1,
      id: lie.id ?? me.id,
      key: me.publicKey,
      nonce,
      nick: "raw",
      apps: lie.apps ?? [],
    };
    const body = encodeShared(hello).slice();
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length);
    frame.set(body, 4);
    await this.sendBytes(frame);
    const theirs = this.#reading === null ? await this.#readOneFrame() : await this.next();
    if (!theirs || theirs.t !== "hello") {
      throw new Error(`expected hello, got ${JSON.stringify(theirs)}`);
    }
    // auth: sign "meshtalk/1 auth" || SHA-256(their hello body) || SHA-256(my hello body).
    const myHash = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
    const theirBody = this.raw[0] as Uint8Array<ArrayBuffer>; // a peer's first frame is its hello
    const theirHash = new Uint8Array(await crypto.subtle.digest("SHA-256", theirBody));
    const proof = new Uint8Array([...AUTH_DOMAIN, ...theirHash, ...myHash]);
    const sig = new Uint8Array(
      await crypto.subtle.sign("Ed25519", lie.signWith ?? me.privateKey, proof),
    );
    await this.send({ t: "auth", sig });
    return theirs;
  }

  /** For a peer that does not read: handshakes reading only the peer's hello, returns its id. */
  async handshakeBlind(apps: string[] = []): Promise<string> {
    return (await this.handshake(undefined, { apps })).id as string;
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

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const count = await this.conn.read(buffer);
        if (count === null) break;
        for (const body of this.#decoder.push(buffer.subarray(0, count))) {
          const copy = body.slice();
          this.raw.push(copy);
          this.#frames.push(decodeValue(copy) as Frame);
        }
        this.#wake?.();
      }
    } catch {
      // reset or closed by us
    }
    this.#ended = true;
    this.#wake?.();
  }
}
