/**
 * What tests of meshtalk and of apps built on it need: waiting for a condition with a deadline,
 * random bytes, a few peers on loopback, and {@linkcode RawPeer}, a peer driven by hand.
 *
 * @example
 * ```ts
 * import { closeAll, echo, peers, waitFor } from "@meshtalk/core/testing";
 * const [a, b] = await peers(2);
 * const got: string[] = [];
 * b.app(echo).onMessage((body) => got.push(body.text));
 * await a.connect("127.0.0.1", b.port);
 * a.app(echo).broadcast({ text: "hi" });
 * await waitFor(() => got.length === 1, "the message");
 * await closeAll([a, b]);
 * ```
 *
 * @module
 */
import {
  type AppDefinition,
  defineApp,
  type Peer,
  type PeerEvents,
  type PeerOptions,
  startPeer,
} from "./peer.ts";
import {
  type BinSchema,
  type MapSchema,
  type OptionalSchema,
  s,
  type StrSchema,
} from "./schema.ts";

export { type Frame, frameOf, type Lie, RawPeer } from "./raw_peer.ts";

/**
 * `length` random bytes (getRandomValues gives at most 64 KiB a call).
 *
 * @example
 * ```ts
 * import { randomBytes } from "@meshtalk/core/testing";
 * console.log(randomBytes(100_000).length); // 100000
 * ```
 */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

/**
 * Resolves once `condition()` is true; rejects with `what` after `timeoutMs`.
 *
 * @example
 * ```ts
 * import { waitFor } from "@meshtalk/core/testing";
 * let done = false;
 * setTimeout(() => done = true, 10);
 * await waitFor(() => done, "the timer");
 * ```
 */
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

/**
 * Resolves as `promise` does; rejects with `what` after `timeoutMs`, so a lost message fails a
 * test instead of hanging it.
 *
 * @example
 * ```ts
 * import { within } from "@meshtalk/core/testing";
 * console.log(await within(Promise.resolve(1), "one")); // 1
 * ```
 */
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

/** Schema of {@linkcode echo}. */
export type EchoSchema = MapSchema<{ text: StrSchema; data: OptionalSchema<BinSchema> }>;

/**
 * The app the core's tests send: a line of text, and bytes when a test needs them.
 *
 * @example
 * ```ts
 * import { echo } from "@meshtalk/core/testing";
 * console.log(echo.name); // "echo"
 * ```
 */
export const echo: AppDefinition<EchoSchema> = defineApp(
  "echo",
  s.map({ text: s.str(1000), data: s.optional(s.bin(1 << 20)) }),
);

/**
 * `count` peers on loopback running {@linkcode echo}, with no upkeep and quiet logs.
 *
 * @example
 * ```ts
 * import { closeAll, peers } from "@meshtalk/core/testing";
 * const list = await peers(3);
 * await closeAll(list);
 * ```
 */
export async function peers(count: number, options: PeerOptions = {}): Promise<Peer[]> {
  return await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startPeer({
        host: "127.0.0.1",
        apps: [echo],
        nick: `p${i}`,
        targetConnections: 0,
        log: () => {},
        // Generous unless a test is about it: a loaded machine starts workers slowly.
        handshakeTimeoutMs: 30_000,
        ...options,
      })),
  );
}

/**
 * Closes every peer of `list`.
 *
 * @example
 * ```ts
 * import { closeAll, peers } from "@meshtalk/core/testing";
 * await closeAll(await peers(2));
 * ```
 */
export async function closeAll(list: Peer[]): Promise<void> {
  await Promise.all(list.map((p) => p.close()));
}

/**
 * Every `event` the peer reports from now on.
 *
 * @example
 * ```ts
 * import { closeAll, peers, record } from "@meshtalk/core/testing";
 * const [a] = await peers(1);
 * const joined = record(a, "peer:connected");
 * console.log(joined.length); // 0
 * await closeAll([a]);
 * ```
 */
export function record<E extends keyof PeerEvents>(peer: Peer, event: E): PeerEvents[E][] {
  const seen: PeerEvents[E][] = [];
  peer.on(event, (detail) => seen.push(detail));
  return seen;
}
