/**
 * Who gets in: the accept loop, the caps on connections (in all, per remote host, in handshake)
 * checked before a stranger costs us a worker, the penalties of hosts that broke a limit, and the
 * frames that tell a refused dialer why and where else to go.
 *
 * @module
 */
import type { AddressBook } from "./address_book.ts";
import { BoundedMap } from "./bounded.ts";
import { concatBytes } from "./bytes.ts";
import { encodeFrame } from "./frame.ts";
import type { ByeCode } from "./messages.ts";
import type { ResolvedPeerOptions } from "./peer_options.ts";
import type { ConnectionRecord, PeerAddress, Registry } from "./registry.ts";

/** Hosts remembered as having broken a limit; past this, the one penalized longest ago goes. */
const MAX_PENALTIES = 4096;
/** A new offence within this long after a penalty ends counts as a repeat (doubles the wait). */
const REPEAT_WINDOW_MS = 10 * 60_000;
/** The longest a host is refused. */
const MAX_PENALTY_MS = 60 * 60_000;

/** What admission needs of its peer. */
export interface AdmissionHost {
  /** The connections there are. */
  registry: Registry;
  /** Where a penalized address we dialed is marked failed. */
  book: AddressBook;
  /** The caps and the penalty, and where to report. */
  options: Pick<
    ResolvedPeerOptions,
    "maxConnections" | "maxConnectionsPerAddress" | "maxPendingHandshakes" | "penaltyMs" | "log"
  >;
  /** Addresses to tell a dialer we refuse, so that it can go elsewhere. */
  exchangeList(): PeerAddress[];
  /** Takes an accepted socket on as an inbound connection. */
  adopt(conn: Deno.TcpConn): void;
  /** True once the peer is closing: every dialer is refused. */
  closing(): boolean;
}

/** Why a socket is refused: the `bye` it gets, and whether it is told other addresses. */
interface Refusal {
  reason: string;
  code: ByeCode;
  share: boolean;
}

/**
 * Accepts sockets from a listener until it closes, refusing those past a cap.
 *
 * @example
 * ```ts
 * import { Admission } from "./admission.ts";
 * import { AddressBook } from "./address_book.ts";
 * import { resolvePeerOptions } from "./peer_options.ts";
 * import { Registry } from "./registry.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const admission = new Admission(listener, {
 *   registry: new Registry("4f1c0000000000000000000000000000"),
 *   book: new AddressBook(),
 *   options: resolvePeerOptions({ maxConnections: 8 }),
 *   exchangeList: () => [],
 *   adopt: (conn) => conn.close(),
 *   closing: () => false,
 * });
 * const accepting = admission.run();
 * listener.close();
 * await accepting;
 * ```
 */
export class Admission {
  /** Remote hosts dropped for breaking a limit: refused until `until`. */
  readonly #penalties = new BoundedMap<string, { until: number; strikes: number }>(MAX_PENALTIES);
  readonly #listener: Deno.TcpListener;
  readonly #host: AdmissionHost;

  /** Admission of the sockets `listener` accepts. */
  constructor(listener: Deno.TcpListener, host: AdmissionHost) {
    this.#listener = listener;
    this.#host = host;
  }

  /** The accept loop: resolves once the listener is closed. */
  async run(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const refusal = this.#refusalOf(conn.remoteAddr.hostname);
        if (refusal) await this.#refuse(conn, refusal);
        else this.#host.adopt(conn);
      }
    } catch (error) {
      if (!this.#host.closing()) {
        this.#host.options.log(`listener failed: ${(error as Error).message}`);
      }
    }
  }

  /**
   * Backs off a remote that broke a limit: its host is refused for a while, doubling with each
   * offence, and an address we dialed is marked failed, so upkeep waits before trying it again.
   */
  penalize(record: ConnectionRecord): void {
    const host = record.connection.remoteAddr.hostname;
    const now = Date.now();
    const last = this.#penalties.get(host);
    const strikes = last && now < last.until + REPEAT_WINDOW_MS ? last.strikes + 1 : 1;
    const ms = Math.min(this.#host.options.penaltyMs * 2 ** (strikes - 1), MAX_PENALTY_MS);
    this.#penalties.set(host, { until: now + ms, strikes });
    if (record.dialed) this.#host.book.failed(record.dialed);
    this.#host.options.log(`${host} broke a limit: refusing it for ${Math.round(ms / 1000)} s`);
  }

  /** Why a socket from `host` is refused, or null: it may have a worker and a handshake. */
  #refusalOf(host: string): Refusal | null {
    const { registry, options } = this.#host;
    if (this.#host.closing()) {
      return { reason: "peer shutting down", code: "shutdown", share: true };
    }
    if (registry.records.size >= options.maxConnections) {
      return { reason: "too many connections", code: "full", share: true };
    }
    const penalty = this.#penalties.get(host);
    if (penalty && Date.now() < penalty.until) {
      const seconds = Math.ceil((penalty.until - Date.now()) / 1000);
      return {
        reason: `${host} broke a limit and is refused for another ${seconds} s`,
        code: "limit",
        share: false,
      };
    }
    let fromHost = 0;
    for (const record of registry.records) {
      if (record.connection.remoteAddr.hostname === host) fromHost++;
    }
    if (fromHost >= options.maxConnectionsPerAddress) {
      return {
        reason: `too many connections from ${host} (limit ${options.maxConnectionsPerAddress})`,
        code: "full",
        share: true,
      };
    }
    // Strangers get a worker only while few handshakes are pending, so silent sockets cannot use
    // up the connection slots and the memory of workers.
    let pending = 0;
    for (const record of registry.records) if (!record.remote) pending++;
    if (pending >= options.maxPendingHandshakes) {
      return { reason: "too many connections in handshake", code: "full", share: true };
    }
    return null;
  }

  /**
   * Refuses before spawning a worker: tells the dialer why and (with `share`) where else to go.
   * These frames are sent in the clear, before any key exists; the dialer treats them as hints.
   */
  async #refuse(conn: Deno.TcpConn, { reason, code, share }: Refusal): Promise<void> {
    try {
      const peers = encodeFrame({ t: "peers", peers: share ? this.#host.exchangeList() : [] });
      await conn.write(concatBytes(peers, encodeFrame({ t: "bye", reason, code })));
    } catch {
      // the dialer is gone already
    } finally {
      conn.close();
    }
  }
}
