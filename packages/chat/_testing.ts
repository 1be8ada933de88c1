/**
 * What the chat's tests share: an author that signs, says made and signed by hand, and the
 * `PeerInfo` of a neighbour for tests that need no sockets. Not part of the package's face.
 *
 * @module
 */
import { generateIdentity, type Peer, type PeerInfo } from "@meshtalk/core";
import { signedBytes } from "./signing.ts";
import type { ChatWireMessage } from "./wire.ts";

/** Whoever writes says: a peer, or a {@linkcode testAuthor}. */
export type Author = Pick<Peer, "id" | "nick" | "publicKey" | "sign">;

/** An author made for a test, which may change its nickname or how it signs. */
export interface TestAuthor {
  /** Its peer id. */
  id: string;
  /** Its nickname. */
  nick: string;
  /** Its raw Ed25519 public key. */
  publicKey: Uint8Array;
  /** Signs `data` with its key. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/**
 * A fresh identity that signs as a peer would, with no peer around it.
 *
 * @example
 * ```ts
 * import { testAuthor } from "./_testing.ts";
 * const ada = await testAuthor("ada");
 * console.log(ada.nick, (await ada.sign(new Uint8Array(1))).length); // "ada" 64
 * ```
 */
export async function testAuthor(nick = "ada"): Promise<TestAuthor> {
  const identity = await generateIdentity();
  return {
    id: identity.id,
    nick,
    publicKey: identity.publicKey,
    sign: async (data) =>
      new Uint8Array(
        await crypto.subtle.sign("Ed25519", identity.privateKey, data as BufferSource),
      ),
  };
}

/** Says made by hand so far: each gets its own number in its author's stream (epoch 1). */
let handMade = 0;

/**
 * A say made by hand in `author`'s name and signed with its key; `fields` replace the defaults
 * (one line, clock 1, 32 hops left of a limit of 32, epoch 1, the next number of the stream).
 *
 * @example
 * ```ts
 * import { signedSay, testAuthor } from "./_testing.ts";
 * const say = await signedSay(await testAuthor(), { lines: ["hi", "there"] });
 * console.log(say.lines.length, say.sig.length); // 2 64
 * ```
 */
export async function signedSay(
  author: Author,
  fields: Partial<ChatWireMessage> = {},
): Promise<ChatWireMessage> {
  const say: ChatWireMessage = {
    id: crypto.randomUUID().replaceAll("-", ""),
    origin: author.id,
    nick: author.nick,
    lines: ["made by hand"],
    clock: 1,
    hops: 32,
    limit: 32,
    sentAt: Date.now(),
    key: author.publicKey,
    sig: new Uint8Array(64),
    epoch: 1,
    n: ++handMade,
    ...fields,
  };
  say.sig = await author.sign(signedBytes(say));
  return say;
}

/**
 * A connected neighbour as a channel reports it, for tests without sockets.
 *
 * @example
 * ```ts
 * import { neighbour } from "./_testing.ts";
 * console.log(neighbour("b".repeat(32), "bo").nick); // "bo"
 * ```
 */
export function neighbour(id: string, nick = "neighbour"): PeerInfo {
  return {
    id,
    nick,
    address: null,
    remoteAddress: "127.0.0.1:1",
    direction: "inbound",
    state: "open",
    rttMs: null,
    apps: ["chat"],
    connectedAt: 0,
  };
}
