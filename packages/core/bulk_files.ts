/**
 * Where apps' bulk bytes meet files on the main thread's side: the sinks in force (bulk bytes that
 * connection workers write into files instead of delivering) and the hash workers that verify
 * pieces and hash files, started on first use.
 *
 * @module
 */
import type { Connection } from "./connection.ts";
import { ConnectError } from "./errors.ts";
import { HashPool } from "./hash_pool.ts";
import type { SinkRequest } from "./worker_protocol.ts";

/**
 * A peer's sinks and hash workers, told to every connection it has and will have.
 *
 * @example
 * ```ts
 * import { BulkFiles } from "./bulk_files.ts";
 * const files = new BulkFiles(() => [], () => false);
 * files.setSink({ type: "sink", app: "files", key: "abc", path: "/tmp/abc.part" });
 * console.log(files.sinks().length); // 1
 * files.close();
 * ```
 */
export class BulkFiles {
  readonly #sinks = new Map<string, SinkRequest>();
  readonly #connections: () => Iterable<Connection>;
  readonly #closing: () => boolean;
  #pool: HashPool | null = null;

  /** Sinks and hash workers for the connections `connections()` lists; none once `closing()`. */
  constructor(connections: () => Iterable<Connection>, closing: () => boolean) {
    this.#connections = connections;
    this.#closing = closing;
  }

  /** The sinks in force: a new connection starts with these. */
  sinks(): SinkRequest[] {
    return [...this.#sinks.values()];
  }

  /** Starts or (path null) stops a sink, on every connection. */
  setSink(request: SinkRequest): void {
    const key = `${request.app}\0${request.key}`;
    if (request.path === null) this.#sinks.delete(key);
    else this.#sinks.set(key, request);
    for (const connection of this.#connections()) connection.sink(request);
  }

  /** The hash workers, started on first use: a peer that verifies nothing never pays for them. */
  hashPool(): HashPool {
    if (this.#closing()) throw new ConnectError("closed", "the peer is closed");
    if (!this.#pool) {
      this.#pool = new HashPool();
      for (const connection of this.#connections()) connection.useHashers(this.#pool.link());
    }
    return this.#pool;
  }

  /** Gives a new connection the hash workers, if they run. */
  link(connection: Connection): void {
    if (this.#pool) connection.useHashers(this.#pool.link());
  }

  /** Stops the hash workers. */
  close(): void {
    this.#pool?.close();
  }
}
