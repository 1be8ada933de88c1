// Helper of the peer's unit tests: records around a stand-in for a Connection, so that the
// registry, the app channel and the heartbeat can be tested with no socket and no worker.
import type { Address } from "./address.ts";
import type { Connection } from "./connection.ts";
import type { HashLink } from "./hash_pool.ts";
import type { ByeCode, Message } from "./messages.ts";
import { type ConnectionRecord, newRecord } from "./registry.ts";
import type { SinkRequest } from "./worker_protocol.ts";

/** What a {@linkcode Connection} is asked to do, written down instead of done. */
export class FakeConnection {
  readonly sent: { message: Message; credit: number }[] = [];
  readonly sinks: SinkRequest[] = [];
  readonly remoteAddr: Deno.NetAddr;
  closedWith: { reason: string; code?: ByeCode } | null = null;
  /** Set by `endSending`: our bye, after which nothing is sent. */
  endedWith: { reason: string; code: ByeCode; withinMs: number } | null = null;
  /** A deadline set by `closeAfter` (or `endSending`). */
  closesAfter: { ms: number; reason: string } | null = null;
  paused = false;
  hashers = 0;
  lastReceivedAt: number = performance.now();
  helloSentAt: number | null = performance.now();

  constructor(port: number, hostname = "127.0.0.1") {
    this.remoteAddr = { transport: "tcp", hostname, port };
  }

  get closing(): boolean {
    return this.closedWith !== null || this.endedWith !== null;
  }

  send(message: Message, credit: number): boolean {
    if (this.closing) return false;
    this.sent.push({ message, credit });
    return true;
  }

  sink(request: SinkRequest): void {
    this.sinks.push(request);
  }

  useHashers(link: HashLink): void {
    this.hashers++;
    link.release();
  }

  drained(): Promise<void> {
    return Promise.resolve();
  }

  pauseSending(): void {
    this.paused = true;
  }

  resumeSending(): void {
    this.paused = false;
  }

  endSending(reason: string, code: ByeCode, withinMs: number): Promise<void> {
    this.endedWith ??= { reason, code, withinMs };
    this.closesAfter ??= { ms: withinMs, reason };
    return Promise.resolve();
  }

  closeAfter(ms: number, reason: string): void {
    this.closesAfter = { ms, reason };
  }

  close(reason: string, code?: ByeCode): Promise<void> {
    this.closedWith ??= { reason, code };
    return Promise.resolve();
  }
}

/** How {@linkcode fakeRecord} builds a record. */
export interface FakeRecordOptions {
  /** The remote's id: the handshake is done. Without it, the record is handshaking. */
  id?: string;
  /** Apps the remote runs. */
  apps?: string[];
  /** Port the remote announced it listens on. */
  listenPort?: number;
  /** Who dialed (default inbound). */
  direction?: "inbound" | "outbound";
  /** For outbound records: the address dialed. */
  dialed?: Address;
  /** The ephemeral keys of the hellos. */
  ephemeralKeys?: { mine: string; theirs: string };
  /** The remote end of the socket (default a port of its own on 127.0.0.1). */
  remotePort?: number;
}

let nextPort = 40_000;

/** A record around a {@linkcode FakeConnection}. */
export function fakeRecord(
  options: FakeRecordOptions = {},
): ConnectionRecord & { fake: FakeConnection } {
  const fake = new FakeConnection(options.remotePort ?? nextPort++);
  const record = newRecord(
    options.direction ?? "inbound",
    options.dialed,
    () => fake as unknown as Connection,
  );
  if (options.id !== undefined) {
    record.remote = {
      id: options.id,
      key: new Uint8Array(32),
      nick: `nick-${options.id.slice(0, 4)}`,
      apps: options.apps ?? [],
      ...(options.listenPort ? { listen: { host: "", port: options.listenPort } } : {}),
    };
    record.ephemeralKeys = options.ephemeralKeys ?? { mine: "aa", theirs: "bb" };
  }
  return Object.assign(record, { fake });
}
