/**
 * Liveness: pings to every neighbour and their pongs, and the clocks that close a connection
 * whose handshake takes too long, a neighbour silent past the heartbeat timeout, or one that
 * carried no app message for the idle timeout.
 *
 * @module
 */
import { ConnectError } from "./errors.ts";
import type { ResolvedPeerOptions } from "./peer_options.ts";
import type { ConnectionRecord, Registry } from "./registry.ts";

/** The timers that matter to liveness, and where to report a dead neighbour. */
export type HeartbeatOptions = Pick<
  ResolvedPeerOptions,
  "handshakeTimeoutMs" | "heartbeatIntervalMs" | "heartbeatTimeoutMs" | "idleTimeoutMs" | "log"
>;

/**
 * Pings and timeouts over a registry's connections, advanced by {@linkcode Heartbeat.tick}.
 *
 * @example
 * ```ts
 * import { Heartbeat } from "./heartbeat.ts";
 * import { Registry } from "./registry.ts";
 * const heartbeat = new Heartbeat(new Registry("4f1c0000000000000000000000000000"), {
 *   handshakeTimeoutMs: 10_000,
 *   heartbeatIntervalMs: 2000,
 *   heartbeatTimeoutMs: 10_000,
 *   idleTimeoutMs: 0,
 *   log: console.error,
 * });
 * heartbeat.tick(performance.now()); // no connections: nothing to do
 * ```
 */
export class Heartbeat {
  readonly #registry: Registry;
  readonly #options: HeartbeatOptions;

  /** Liveness of the connections of `registry`. */
  constructor(registry: Registry, options: HeartbeatOptions) {
    this.#registry = registry;
    this.#options = options;
  }

  /**
   * One round over every connection: pings unanswered for the heartbeat timeout fail, handshakes
   * and neighbours past their timeouts are closed, and neighbours due a ping get one.
   */
  tick(now: number): void {
    const o = this.#options;
    for (const record of this.#registry.records) {
      const connection = record.connection;
      if (connection.closing) continue;
      for (const [n, ping] of record.pings) {
        if (now - ping.sentAt < o.heartbeatTimeoutMs) break; // in send order: the rest are newer
        record.pings.delete(n);
        ping.waiter.reject(new ConnectError("timeout", `no answer to ping ${n}`));
      }
      if (!record.remote) {
        // Timed from our hello, not from the accept: starting a worker is our cost, and on a
        // loaded machine it can take seconds. A worker that never starts gets a larger bound.
        const since = connection.helloSentAt ?? record.startedAt;
        const limit = connection.helloSentAt === null
          ? Math.max(30_000, o.handshakeTimeoutMs)
          : o.handshakeTimeoutMs;
        if (now - since > limit) {
          connection.close(`handshake timed out after ${limit} ms`, "timeout");
          record.ready.reject(
            new ConnectError("timeout", `${this.#registry.remoteKey(record)}: handshake timed out`),
          );
        }
        continue;
      }
      const silent = now - Math.max(connection.lastReceivedAt, record.startedAt);
      if (silent > o.heartbeatTimeoutMs) {
        const reason = `no response for ${Math.round(silent)} ms (heartbeat timeout)`;
        o.log(
          `peer ${record.remote.id.slice(0, 8)} at ${this.#registry.remoteKey(record)}: ${reason}`,
        );
        connection.close(reason, "timeout");
      } else if (o.idleTimeoutMs > 0 && now - record.lastAppAt > o.idleTimeoutMs) {
        connection.close(`idle for ${o.idleTimeoutMs} ms`, "timeout");
      } else if (now - record.lastPingAt >= o.heartbeatIntervalMs) {
        this.ping(record);
      }
    }
  }

  /** Sends a ping; the waiter settles with the round-trip time in ms, or rejects. */
  ping(record: ConnectionRecord): PromiseWithResolvers<number> {
    const n = ++record.pingSeq;
    const waiter = Promise.withResolvers<number>();
    waiter.promise.catch(() => {});
    const sentAt = performance.now();
    record.pings.set(n, { waiter, sentAt });
    record.lastPingAt = sentAt;
    if (!record.connection.send({ t: "ping", n }, 0)) {
      record.pings.delete(n);
      waiter.reject(new ConnectError("closed", "connection is closing"));
    }
    return waiter;
  }

  /** A pong arrived: settles its ping and records the round-trip time. */
  pong(record: ConnectionRecord, n: number): void {
    const ping = record.pings.get(n);
    if (!ping) return;
    record.pings.delete(n);
    const rtt = performance.now() - ping.sentAt;
    record.rttMs = rtt;
    ping.waiter.resolve(rtt);
  }

  /** A connection closed: its unanswered pings fail with `reason`. */
  abandon(record: ConnectionRecord, reason: string): void {
    for (const { waiter } of record.pings.values()) {
      waiter.reject(new ConnectError("closed", reason));
    }
  }
}
