/**
 * Reaching what a share link names: the peer it names is dialed, pinned by its id (any other
 * peer at that address is refused), and its announcement of the root is waited for. There is no
 * manifest to check against the link: the root is the hash of the manifest, so the only manifest
 * that can be found under it is the one the link means.
 *
 * @module
 */
import { ConnectError, formatAddress } from "@meshtalk/core";
import { FileShareError } from "./errors.ts";
import type { ShareLink } from "./link.ts";

/**
 * What a {@linkcode LinkFetcher} works with.
 *
 * @example
 * ```ts
 * import type { LinkFetcherHost } from "./link_fetch.ts";
 * const host: LinkFetcherHost = {
 *   known: () => false,
 *   connected: () => false,
 *   connect: () => Promise.resolve(),
 * };
 * ```
 */
export interface LinkFetcherHost {
  /** True when the file or folder of `root` is in the catalog. */
  known(root: string): boolean;
  /** True when the peer of id `id` is a neighbour. */
  connected(id: string): boolean;
  /** Dials `host:port`, refusing any peer there but `expectPeer`. */
  connect(host: string, port: number, expectPeer: string): Promise<unknown>;
}

/**
 * Finds what links name, and wakes those waiting when an announcement comes in.
 *
 * @example
 * ```ts
 * import { LinkFetcher } from "./link_fetch.ts";
 * const known = new Set<string>();
 * const fetcher = new LinkFetcher({
 *   known: (root) => known.has(root),
 *   connected: () => false,
 *   connect: () => {
 *     // The peer announces it on the new connection.
 *     setTimeout(() => { known.add("ab".repeat(32)); fetcher.announced("ab".repeat(32)); }, 0);
 *     return Promise.resolve();
 *   },
 * });
 * await fetcher.reach({ root: "ab".repeat(32), host: "10.0.0.7", port: 7000, id: "cd".repeat(16) }, 1000);
 * console.log(known.size); // 1
 * ```
 */
export class LinkFetcher {
  readonly #host: LinkFetcherHost;
  readonly #waiting = new Map<string, Set<() => void>>();
  #closed = false;

  /** A fetcher over `host`. */
  constructor(host: LinkFetcherHost) {
    this.#host = host;
  }

  /**
   * Resolves once the link's peer has proven the id the link names (a neighbour has; anyone else
   * is dialed) and the root of `link` is in the catalog (at once if it was, else once announced,
   * within `timeoutMs`). The peer is proven even when the root is known from others: a link pins
   * who it names, and an altered one is refused rather than quietly served by someone else.
   * Throws a {@linkcode FileShareError}: `wrong-peer` when the peer there is not the one the link
   * names, `unreachable` when it cannot be reached, `not-offered` when it does not announce the
   * root in time (or this closes).
   */
  async reach(link: ShareLink, timeoutMs: number): Promise<void> {
    const where = formatAddress(link);
    if (!this.#host.connected(link.id)) {
      try {
        await this.#host.connect(link.host, link.port, link.id);
      } catch (error) {
        const message = (error as Error).message;
        if (error instanceof ConnectError && error.reason === "wrong-peer") {
          throw new FileShareError(
            "wrong-peer",
            `refused the peer at ${where}: it is not ${link.id}, the peer the link names ` +
              `(${message}); the link was altered, or another peer listens there now`,
          );
        }
        throw new FileShareError("unreachable", `cannot reach ${where} for the link: ${message}`);
      }
    }
    // Checked and waited for in one turn: an announcement cannot slip in between.
    if (this.#host.known(link.root)) return;
    const arrived = this.#arrival(link.root, timeoutMs);
    if (await arrived.promise) return;
    throw new FileShareError(
      "not-offered",
      this.#closed
        ? `stopped waiting for ${link.root.slice(0, 16)}: the share closed`
        : `${where} (${link.id.slice(0, 8)}) did not offer ${link.root.slice(0, 16)}… within ${
          timeoutMs / 1000
        } s: it no longer ` +
          `offers it, or the link's hash was altered`,
    );
  }

  /** The file or folder of `root` was announced: those waiting for it go on. */
  announced(root: string): void {
    const waiting = this.#waiting.get(root);
    this.#waiting.delete(root);
    for (const wake of waiting ?? []) wake();
  }

  /** Nothing more is waited for. */
  close(): void {
    this.#closed = true;
    for (const root of [...this.#waiting.keys()]) this.announced(root);
  }

  /** A promise of whether `root` became known within `timeoutMs`, and a way to stop waiting. */
  #arrival(root: string, timeoutMs: number) {
    const { promise, resolve } = Promise.withResolvers<boolean>();
    let waiting = this.#waiting.get(root);
    if (!waiting) this.#waiting.set(root, waiting = new Set());
    const done = (known: boolean) => {
      clearTimeout(timer);
      waiting.delete(wake);
      if (waiting.size === 0 && this.#waiting.get(root) === waiting) this.#waiting.delete(root);
      resolve(known);
    };
    const wake = () => done(!this.#closed && this.#host.known(root));
    const timer = setTimeout(() => done(this.#host.known(root)), timeoutMs);
    waiting.add(wake);
    return { promise, cancel: () => done(false) };
  }
}
