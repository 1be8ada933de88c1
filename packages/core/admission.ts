/**
 * Who gets in: the accept loop, the caps on connections (in all, per remote host, in handshake,
 * in handshake per remote host) checked before a stranger costs us a worker, and the penalties of
 * hosts that broke a limit.
 *
 * A stranger refused before its handshake gets one `bye` in the clear and learns nothing of the
 * mesh. A peer that is only full still runs the handshake, so that a newcomer it turns away learns
 * where else to go (see `Dispatcher`); one remote host can hold only a few handshakes at a time,
 * so a flood of silent sockets from one place cannot lock everyone else out.
 *
 * @module
 */
import type { AddressBook } from "./address_book.ts";
import { BoundedMap } from "./bounded.ts";
import { encodeFrame } from "./frame.ts";
import type { ByeCode } from "./messages.ts";
import type { ResolvedPeerOptions } from "./peer_options.ts";
import type { ConnectionRecord, Registry } from "./registry.ts";

/** Hosts remembered as having broken a limit; past this, the one penalized longest ago goes. */
const MAX_PENALTIES = 4096;
/** A new offence within this long after a penalty ends counts as a repeat (doubles the wait). */
const REPEAT_WINDOW_MS = 10 * 60_000;
/** The longest a host is refused. */
const MAX_PENALTY_MS = 60 * 60_000;
/**
 * Sockets that wait for a handshake slot, from one host and in all: strangers get a worker only
 * while few handshakes are pending, and few from any one host, so silent sockets can use up
 * neither the slots of others nor the memory of workers; a burst of honest dials waits its turn.
 */
const MAX_WAITING_PER_HOST = 16;
const MAX_WAITING = 64;
/** The longest a socket waits for a slot before it is refused. */
const MAX_WAIT_MS = 10_000;
const SHUTTING_DOWN: Refusal = { reason: "peer shutting down", code: "shutdown" };
const TOO_MANY_HANDSHAKES: Refusal = { reason: "too many connections in handshake", code: "full" };

/** What admission needs of its peer. */
export interface AdmissionHost {
  /** The connections there are. */
  registry: Registry;
  /** Where a penalized address we dialed is marked failed. */
  book: AddressBook;
  /** The caps and the penalty, and where to report. */
  options: Pick<
    ResolvedPeerOptions,
    | "maxConnections"
    | "maxConnectionsPerAddress"
    | "maxPendingHandshakes"
    | "maxPendingPerAddress"
    | "penaltyMs"
    | "log"
  >;
  /**
   * Takes an accepted socket on as an inbound connection; `full`: only for its handshake, after
   * which it is told where else to go and closed.
   */
  adopt(conn: Deno.TcpConn, full: boolean): void;
  /** True once the peer is closing: every dialer is refused. */
  closing(): boolean;
}

/** Why a socket is refused before its handshake: the `bye` it gets, in the clear. */
interface Refusal {
  reason: string;
  code: ByeCode;
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
  /** Sockets accepted while their host's (or all) handshake slots were taken, by host. */
  readonly #waiting = new Map<string, { conn: Deno.TcpConn; since: number }[]>();
  #waitingCount = 0;
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
        const host = conn.remoteAddr.hostname;
        const refusal = this.#refusalOf(host);
        if (refusal) await this.#refuse(conn, refusal);
        else if (this.#hasSlot(host)) this.#adopt(conn);
        else await this.#wait(conn, host);
      }
    } catch (error) {
      if (!this.#host.closing()) {
        this.#host.options.log(`listener failed: ${(error as Error).message}`);
      }
    }
    for (const queue of this.#waiting.values()) {
      for (const { conn } of queue) await this.#refuse(conn, SHUTTING_DOWN);
    }
    this.#waiting.clear();
  }

  /**
   * Adopts sockets that wait for a handshake slot, oldest first, while there are slots; refuses
   * those that waited too long. Call it when a handshake ends (and now and then).
   */
  admitWaiting(now = performance.now()): void {
    for (const [host, queue] of this.#waiting) {
      while (queue.length > 0 && (now - queue[0].since > MAX_WAIT_MS || this.#hasSlot(host))) {
        const { conn, since } = queue.shift()!;
        this.#waitingCount--;
        if (now - since > MAX_WAIT_MS || this.#host.closing()) {
          this.#refuse(conn, TOO_MANY_HANDSHAKES).catch(() => {});
        } else {
          this.#adopt(conn);
        }
      }
      if (queue.length === 0) this.#waiting.delete(host);
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

  #adopt(conn: Deno.TcpConn): void {
    const { registry, options } = this.#host;
    this.#host.adopt(conn, registry.records.size >= options.maxConnections);
  }

  /** Queues a socket until a handshake slot is free: refused if too many wait already. */
  async #wait(conn: Deno.TcpConn, host: string): Promise<void> {
    const queue = this.#waiting.get(host) ?? [];
    if (queue.length >= MAX_WAITING_PER_HOST || this.#waitingCount >= MAX_WAITING) {
      return await this.#refuse(conn, TOO_MANY_HANDSHAKES);
    }
    queue.push({ conn, since: performance.now() });
    this.#waiting.set(host, queue);
    this.#waitingCount++;
  }

  /** True when a stranger from `host` may start its handshake now. */
  #hasSlot(host: string): boolean {
    const { registry, options } = this.#host;
    let pending = 0;
    let pendingFromHost = 0;
    for (const record of registry.records) {
      if (record.remote) continue;
      pending++;
      if (record.connection.remoteAddr.hostname === host) pendingFromHost++;
    }
    return pending < options.maxPendingHandshakes && pendingFromHost < options.maxPendingPerAddress;
  }

  /** Why a socket from `host` is refused, or null: it may have a worker and a handshake. */
  #refusalOf(host: string): Refusal | null {
    const { registry, options } = this.#host;
    if (this.#host.closing()) return SHUTTING_DOWN;
    const penalty = this.#penalties.get(host);
    if (penalty && Date.now() < penalty.until) {
      const seconds = Math.ceil((penalty.until - Date.now()) / 1000);
      return {
        reason: `${host} broke a limit and is refused for another ${seconds} s`,
        code: "limit",
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
      };
    }
    return null;
  }

  /**
   * Refuses before spawning a worker: one `bye` in the clear, before any key exists, that tells a
   * dialer why and nothing else.
   */
  async #refuse(conn: Deno.TcpConn, { reason, code }: Refusal): Promise<void> {
    try {
      await conn.write(encodeFrame({ t: "bye", reason, code }));
    } catch {
      // the dialer is gone already
    } finally {
      conn.close();
    }
  }
}
