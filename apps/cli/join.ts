/**
 * Joining the mesh through the peers given on the command line: each address is dialed until it
 * answers, with a backoff between tries, and the first may be pinned to a peer id
 * (`--expect-peer`). Chat retries for as long as it runs; share gives up after a while.
 *
 * @module
 */
import {
  type Address,
  Backoff,
  type BackoffOptions,
  type ConnectError,
  type ConnectErrorReason,
  type Peer,
} from "@meshtalk/core";
import { UsageError } from "./options.ts";

/** A peer id as `--expect-peer` takes it: all of it, so that no other peer can match. */
const PEER_ID = /^[0-9a-f]{32}$/;

/**
 * Failures that trying again would only repeat: this peer is closing (`closed`), the address is
 * this peer (`self`), or the peer there proved another id than the one pinned (`wrong-peer`).
 */
const FINAL: ReadonlySet<ConnectErrorReason> = new Set(["closed", "self", "wrong-peer"]);

/**
 * Checks `--expect-peer`: a full peer id, and a peer to check it against (the first of `peers`).
 *
 * @example
 * ```ts
 * import { checkExpectPeer } from "./join.ts";
 * checkExpectPeer("0123456789abcdef0123456789abcdef", [{ host: "127.0.0.1", port: 9000 }]);
 * try {
 *   checkExpectPeer("0123", [{ host: "127.0.0.1", port: 9000 }]);
 * } catch (error) {
 *   console.log((error as Error).message); // '--expect-peer needs a full peer id (32 lowercase ...'
 * }
 * ```
 */
export function checkExpectPeer(expectPeer: string | undefined, peers: Address[]): void {
  if (expectPeer === undefined) return;
  if (!PEER_ID.test(expectPeer)) {
    throw new UsageError(
      `--expect-peer needs a full peer id (32 lowercase hex characters), not "${expectPeer}"`,
    );
  }
  if (peers.length === 0) throw new UsageError("--expect-peer needs a peer to join through");
}

/** How {@linkcode join} tries the addresses, and what it tells on the way. */
export interface JoinOptions {
  /** The id the first address must prove; if it proves another, that address is given up. */
  expectPeer?: string;
  /** The delays between tries of one address. */
  backoff: BackoffOptions;
  /** An address is given up when its next try would start later than this (default: never). */
  giveUpAfterMs?: number;
  /** A try of `address` failed and will be made again; `failures` counts them, from 1. */
  onRetry?: (address: Address, error: ConnectError, failures: number) => void;
  /** `address` is given up; `error` is its last failure. */
  onGiveUp?: (address: Address, error: ConnectError) => void;
  /** Aborting it gives up every address waiting for its next try. */
  signal?: AbortSignal;
}

/**
 * How a {@linkcode join} ended: a peer answered, or every address was given up, the pinned one
 * with a peer of another id (`wrong-peer`) or none with an answer (`unreachable`).
 */
export type JoinOutcome = "joined" | "wrong-peer" | "unreachable";

/**
 * Dials every address of `addresses`, each until it answers or is given up; resolves once any
 * answers, or once all are given up (`joined` still, if a peer joined meanwhile by other means).
 * Unpinned addresses are also handed to upkeep; a pinned one is not, as upkeep would dial it
 * without the pin.
 *
 * @example
 * ```ts
 * import { closeAll, peers } from "@meshtalk/core/testing";
 * import { join } from "./join.ts";
 * const [a, b] = await peers(2);
 * const outcome = await join(a, [{ host: "127.0.0.1", port: b.port }], {
 *   backoff: { baseMs: 100, maxMs: 1000 },
 *   giveUpAfterMs: 10_000,
 * });
 * console.log(outcome); // "joined"
 * await closeAll([a, b]);
 * ```
 */
export function join(peer: Peer, addresses: Address[], options: JoinOptions): Promise<JoinOutcome> {
  if (addresses.length === 0) return Promise.resolve("unreachable");
  const deadline = performance.now() + (options.giveUpAfterMs ?? Infinity);
  return new Promise((resolve) => {
    let givenUp = 0;
    let wrongPeer = false;
    for (const [i, address] of addresses.entries()) {
      const expectPeer = i === 0 ? options.expectPeer : undefined;
      if (expectPeer === undefined) peer.addAddress(address.host, address.port);
      dial(peer, address, expectPeer, deadline, options).then((error) => {
        if (error === null) {
          resolve("joined");
          return;
        }
        wrongPeer ||= error.reason === "wrong-peer";
        options.onGiveUp?.(address, error);
        if (++givenUp === addresses.length) {
          resolve(peer.peers().length > 0 ? "joined" : wrongPeer ? "wrong-peer" : "unreachable");
        }
      });
    }
  });
}

/** Dials `address` until it answers (resolves null) or is given up (resolves the last error). */
async function dial(
  peer: Peer,
  address: Address,
  expectPeer: string | undefined,
  deadline: number,
  options: JoinOptions,
): Promise<ConnectError | null> {
  const backoff = new Backoff(options.backoff);
  while (true) {
    try {
      await peer.connect(address.host, address.port, { expectPeer });
      return null;
    } catch (caught) {
      const error = caught as ConnectError;
      const delay = backoff.fail();
      if (FINAL.has(error.reason) || performance.now() + delay > deadline) return error;
      options.onRetry?.(address, error, backoff.failures);
      if (!await sleep(delay, options.signal)) return error;
    }
  }
}

/** Resolves true after `ms`, or false as soon as `signal` is aborted. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const aborted = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", aborted);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", aborted, { once: true });
  });
}
