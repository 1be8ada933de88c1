/**
 * What an author signs, what an honest author writes, and checking a say's signature against its
 * origin's key (docs/PROTOCOL.md section 7).
 *
 * @module
 */
import {
  BoundedMap,
  createVerifier,
  type Ed25519Verifier,
  peerIdFromKey,
  toHex,
} from "@meshtalk/core";
import {
  type ChatWireMessage,
  hopLimitOf,
  MAX_TEXT_LENGTH,
  NICK_EVENT,
  textLength,
} from "./wire.ts";

/** Largest clock a say may carry (2^52): far beyond any real count, well within exact integers. */
export const MAX_CLOCK = 2 ** 52;
/** Authors whose keys are kept ready to verify with; past it the first learned goes. */
const MAX_AUTHORS = 4096;
const SAY_DOMAIN = new TextEncoder().encode("meshtalk/3 chat lines\0");

/**
 * The bytes the author of a `say` signs: a domain, then every field but `hops` (the hops left,
 * which relays lower) and `late` (which the peer answering a summary sets) in a fixed order,
 * strings as a 4-byte big-endian UTF-8 length and the bytes, the lines as a 4-byte count and each
 * line as a string, numbers as 8-byte big-endian integers. docs/PROTOCOL.md section 7 gives the
 * layout.
 *
 * @example
 * ```ts
 * import { signedBytes } from "@meshtalk/chat";
 * const bytes = signedBytes({
 *   id: "00", origin: "11", nick: "ada", lines: ["hi"], clock: 1, hops: 32, sentAt: 0,
 *   key: new Uint8Array(32), sig: new Uint8Array(64), epoch: 1, n: 1,
 * });
 * console.log(bytes.length); // 131
 * ```
 */
export function signedBytes(say: ChatWireMessage): Uint8Array {
  const encoder = new TextEncoder();
  const [id, origin, nick, to, event] = [
    say.id,
    say.origin,
    say.nick,
    say.to ?? "",
    say.event ?? "",
  ]
    .map((x) => encoder.encode(x));
  const lines = say.lines.map((line) => encoder.encode(line));
  const size = SAY_DOMAIN.length + [id, origin, nick, to, ...lines].reduce(
    (n, b) => n + 4 + b.length,
    0,
  ) + 4 + 3 * 8 + 32 + 2 * 8 + 4 + event.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(SAY_DOMAIN);
  let at = SAY_DOMAIN.length;
  const putString = (bytes: Uint8Array) => {
    view.setUint32(at, bytes.length);
    out.set(bytes, at + 4);
    at += 4 + bytes.length;
  };
  const putNumber = (n: number) => {
    view.setBigUint64(at, BigInt(n));
    at += 8;
  };
  putString(id);
  putString(origin);
  putString(nick);
  view.setUint32(at, lines.length);
  at += 4;
  for (const line of lines) putString(line);
  putNumber(say.clock);
  putNumber(say.sentAt);
  putNumber(say.limit ?? 0);
  putString(to);
  out.set(say.key, at);
  at += 32;
  putNumber(say.epoch);
  putNumber(say.n);
  putString(event);
  return out;
}

/**
 * True if `say` is what an honest author writes: at least one line, at most
 * {@linkcode MAX_TEXT_LENGTH} characters in all, clocks below {@linkcode MAX_CLOCK} (past it
 * a receiver's own clock, which follows the largest it saw, would stop being an exact integer and
 * its messages would fail their schema), and a place in a stream (`epoch` and `n` from 1, below
 * that bound too). The schema alone allows 64 lines of 4,000 characters.
 *
 * @example
 * ```ts
 * import { wellFormed } from "./signing.ts";
 * const say = {
 *   id: "00", origin: "11", nick: "ada", lines: ["hi"], clock: 1, hops: 32, sentAt: 0,
 *   key: new Uint8Array(32), sig: new Uint8Array(64), epoch: 1, n: 1,
 * };
 * console.log(wellFormed(say), wellFormed({ ...say, lines: [] })); // true false
 * ```
 */
export function wellFormed(say: ChatWireMessage): boolean {
  const lines = say.event === undefined ? say.lines.length > 0 : isEvent(say);
  return lines && textLength(say.lines) <= MAX_TEXT_LENGTH &&
    say.clock + say.lines.length <= MAX_CLOCK && say.n >= 1 && say.n <= MAX_CLOCK &&
    say.epoch >= 1 && say.epoch <= MAX_CLOCK;
}

/**
 * True for a say that tells of its author rather than saying anything: no lines, a known event,
 * for everyone.
 *
 * @example
 * ```ts
 * import { isEvent } from "./signing.ts";
 * console.log(isEvent({ event: "nick", lines: [] }), isEvent({ lines: [] })); // true false
 * ```
 */
export function isEvent(say: Pick<ChatWireMessage, "event" | "lines" | "to">): boolean {
  return say.event === NICK_EVENT && say.lines.length === 0 && say.to === undefined;
}

/** A say's author as far as checking goes: the id its key gives, and the key's verifier. */
interface Author {
  id: string;
  verify: Ed25519Verifier;
}

/**
 * Checks says' signatures against their origin's key, keeping the id and verifier of the last
 * 4,096 keys seen so that each is derived once. Callers check first that a say is well formed
 * ({@linkcode wellFormed}).
 *
 * @example
 * ```ts
 * import { generateIdentity } from "@meshtalk/core";
 * import { SayVerifier, signedBytes } from "./signing.ts";
 * const me = await generateIdentity();
 * const say = {
 *   id: "00", origin: me.id, nick: "ada", lines: ["hi"], clock: 1, hops: 32, limit: 32,
 *   sentAt: 0, key: me.publicKey, sig: new Uint8Array(64), epoch: 1, n: 1,
 * };
 * const data = signedBytes(say) as Uint8Array<ArrayBuffer>;
 * say.sig = new Uint8Array(await crypto.subtle.sign("Ed25519", me.privateKey, data));
 * const verifier = new SayVerifier(32);
 * console.log(verifier.verifyKnown(say)); // undefined: its key is new here
 * console.log(await verifier.verify(say)); // true
 * console.log(verifier.verifyKnown({ ...say, lines: ["bye"] })); // false
 * ```
 */
export class SayVerifier {
  readonly #ownHopLimit: number;
  readonly #authors = new BoundedMap<string, Author>(MAX_AUTHORS);

  /** `ownHopLimit` stands for the hop limit of says that carry none. */
  constructor(ownHopLimit: number) {
    this.#ownHopLimit = ownHopLimit;
  }

  /**
   * Whether `say` is signed by its origin, if its key is known here; undefined if the key must
   * first be learned (see {@linkcode verify}). `signed` is `signedBytes(say)`, when made already.
   */
  verifyKnown(say: ChatWireMessage, signed?: Uint8Array): boolean | undefined {
    const author = this.#authors.get(toHex(say.key));
    return author && this.#signedBy(author, say, signed ?? signedBytes(say));
  }

  /** Whether `say` is signed by its origin, learning its key first if it is new. */
  async verify(say: ChatWireMessage, signed?: Uint8Array): Promise<boolean> {
    const author = this.#authors.get(toHex(say.key)) ?? await this.#learn(say.key);
    return this.#signedBy(author, say, signed ?? signedBytes(say));
  }

  /** True if `say` is signed by `author`, its origin, over every field but `hops`. */
  #signedBy(author: Author, say: ChatWireMessage, signed: Uint8Array): boolean {
    // A relay may lower the hops left (that only shortens the flood) but not raise them past the
    // limit the author signed.
    const hopsLeft = say.hops;
    if (author.id !== say.origin || hopsLeft > hopLimitOf(say, this.#ownHopLimit)) return false;
    // Checked synchronously: every delivery is checked, and a synchronous check lets a batch of
    // says from one neighbour be handled in one turn, so their relays share frames
    // (docs/ARCHITECTURE.md).
    return author.verify(say.sig, signed);
  }

  async #learn(key: Uint8Array): Promise<Author> {
    const [id, verify] = await Promise.all([peerIdFromKey(key), createVerifier(key)]);
    const author = { id, verify };
    this.#authors.set(toHex(key), author);
    return author;
  }
}
