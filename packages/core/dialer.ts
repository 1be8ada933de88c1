/**
 * Dialing: one attempt at a time per address, through to the end of the handshake, with the
 * outcome written to the address book (a success clears the address's backoff, a failure
 * extends it).
 *
 * @module
 */
import { type Address, formatAddress } from "./address.ts";
import type { AddressBook } from "./address_book.ts";
import { ConnectError } from "./errors.ts";
import type { ConnectionRecord, PeerInfo, Registry } from "./registry.ts";

/**
 * How long a dial waits for the other side to answer the TCP connect. A blackholed address (a
 * host gone, a link cut) otherwise waits for the kernel's retries, minutes.
 */
export const CONNECT_TIMEOUT_MS = 3000;

/**
 * A dial older than this is slow: it no longer counts against upkeep's dials in flight, so
 * addresses that never answer cannot keep upkeep from dialing those that do.
 */
export const SLOW_DIAL_MS = 1000;

/** What a dialer needs of its peer. */
export interface DialerHost {
  /** The connections there are: an address dialed already is not dialed again. */
  registry: Registry;
  /** Where dial outcomes go. */
  book: AddressBook;
  /** Most connections at once (the peer's `maxConnections`). */
  maxConnections: number;
  /** Takes a dialed socket on as an outbound connection. */
  adopt(conn: Deno.TcpConn, dialed: Address, expectPeer?: string): ConnectionRecord;
  /** True once the peer is closing: no dial starts. */
  closing(): boolean;
}

/**
 * Dials addresses and tracks the dials in flight.
 *
 * @example
 * ```ts
 * import { AddressBook } from "./address_book.ts";
 * import { Dialer } from "./dialer.ts";
 * import { Registry } from "./registry.ts";
 * const book = new AddressBook();
 * const dialer = new Dialer({
 *   registry: new Registry("4f1c0000000000000000000000000000"),
 *   book,
 *   maxConnections: 8,
 *   adopt: () => {
 *     throw new Error("nothing listens there");
 *   },
 *   closing: () => false,
 * });
 * const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * probe.close(); // a port where nothing listens
 * await dialer.dial({ host: "127.0.0.1", port: probe.addr.port }).catch((e) => console.log(e.reason));
 * console.log(book.list()[0].failures); // 1
 * ```
 */
export class Dialer {
  readonly #host: DialerHost;
  readonly #inFlight = new Map<string, Promise<PeerInfo>>();
  /** When each dial in flight started (`performance.now()`). */
  readonly #startedAt = new Map<string, number>();
  /** Aborts the TCP connects in flight when the peer closes. */
  readonly #abort = new AbortController();

  /** A dialer for the peer `host` describes. */
  constructor(host: DialerHost) {
    this.#host = host;
  }

  /** Dials in flight. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Dials in flight that started less than {@linkcode SLOW_DIAL_MS} before `now`. */
  recentDials(now = performance.now()): number {
    let count = 0;
    for (const startedAt of this.#startedAt.values()) if (now - startedAt < SLOW_DIAL_MS) count++;
    return count;
  }

  /** The addresses being dialed, as `host:port`. */
  dialing(): Set<string> {
    return new Set(this.#inFlight.keys());
  }

  /**
   * Dials `address` and completes the handshake; resolves with the peer there. A dial of an
   * address being dialed joins that attempt; one of an address connected already resolves at
   * once. With `expectPeer`, any other peer there is a `wrong-peer` {@linkcode ConnectError}.
   * A `pinned` connection is one the user asked for: upkeep never drops it to rebalance.
   */
  dial(address: Address, expectPeer?: string, pinned = false): Promise<PeerInfo> {
    const { registry, maxConnections } = this.#host;
    if (this.#host.closing()) {
      return Promise.reject(new ConnectError("closed", "peer is shutting down"));
    }
    const key = formatAddress(address);
    const checked = (info: PeerInfo): PeerInfo => {
      if (expectPeer !== undefined && info.id !== expectPeer) {
        throw new ConnectError(
          "wrong-peer",
          `expected peer ${expectPeer} at ${key} but the peer there proved to be ${info.id}`,
        );
      }
      return info;
    };
    const pending = this.#inFlight.get(key);
    if (pending) return pending.then(checked);
    const connected = registry.dialedAt(address);
    if (connected) {
      connected.pinned ||= pinned;
      return Promise.resolve(registry.info(connected)).then(checked);
    }
    if (registry.records.size >= maxConnections) {
      return Promise.reject(
        new ConnectError(
          "full",
          `cannot dial ${key}: at the limit of ${maxConnections} connections`,
        ),
      );
    }
    const attempt = this.#attempt(address, key, expectPeer, pinned);
    this.#inFlight.set(key, attempt);
    this.#startedAt.set(key, performance.now());
    attempt.catch(() => {}).finally(() => {
      this.#inFlight.delete(key);
      this.#startedAt.delete(key);
    });
    return attempt;
  }

  /** Stops every TCP connect in flight, and resolves once every dial has settled. */
  async settled(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  async #attempt(
    address: Address,
    key: string,
    expectPeer: string | undefined,
    pinned: boolean,
  ): Promise<PeerInfo> {
    const { book } = this.#host;
    // A copy: `address` may be an address book entry, and a record's address is sent to others.
    const dialed = { host: address.host, port: address.port };
    let conn: Deno.TcpConn;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), CONNECT_TIMEOUT_MS);
    try {
      conn = await Deno.connect({
        hostname: address.host,
        port: address.port,
        signal: AbortSignal.any([timeout.signal, this.#abort.signal]),
      });
    } catch (error) {
      if (this.#host.closing()) throw new ConnectError("closed", "peer is shutting down");
      book.failed(address);
      if (timeout.signal.aborted) {
        throw new ConnectError(
          "timeout",
          `cannot reach ${key}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s`,
        );
      }
      throw new ConnectError("unreachable", `cannot reach ${key}: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    if (this.#host.closing()) {
      conn.close();
      throw new ConnectError("closed", "peer is shutting down");
    }
    const record = this.#host.adopt(conn, dialed, expectPeer);
    record.pinned = pinned;
    try {
      const info = await record.ready.promise;
      book.succeeded(address, info.id);
      return info;
    } catch (error) {
      const reason = (error as ConnectError).reason;
      // Someone else answers where the user asked for a peer: upkeep must not dial it unpinned
      // behind the user's back. A hint (heard on the LAN, anyone may forge one) naming the wrong
      // id only fails: it must not let a forger block a real peer's address.
      if (reason === "wrong-peer" && pinned) book.setBlocked(address, true);
      else if (reason !== "self") book.failed(address);
      throw error;
    }
  }
}
