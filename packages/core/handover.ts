/**
 * The handover from a duplicate connection to the one both sides keep, such that no app message
 * is lost, repeated or overtaken. When two peers hold two connections to each other (both dialed
 * at once), each side may have sent on the one that is dropped before it knew of the other. So:
 *
 * - the side that drops a connection sends what it queued on it, then `bye` (code `duplicate`),
 *   then nothing, and goes on reading and delivering from it until the other side's `bye`;
 * - a side told `duplicate` on the connection it sends on keeps sending on it (the other side
 *   still reads) until the twin opens here, then it says its own `bye` there;
 * - the kept connection's app messages are held until the dropped one has delivered its last
 *   (the other side sent those first); and if this side sent on the dropped one, it sends
 *   nothing on the kept one until the other side's `bye` there says the other side holds both.
 *
 * Every wait ends by `graceMs` at the latest: the dropped connection then closes.
 *
 * @module
 */
import type { AppMessage } from "./messages.ts";
import type { ConnectionRecord, Registry } from "./registry.ts";

const DUPLICATE = "duplicate connection";

/** What a {@linkcode Handover} needs of its peer. */
export interface HandoverHost {
  /** Which connection is each peer's. */
  registry: Pick<Registry, "byId">;
  /** How long the other side has to do its part: the handshake timeout. */
  graceMs: number;
  /** Hands an app message that arrived on `record` to the apps. */
  deliver(record: ConnectionRecord, message: AppMessage): void;
}

/** A kept connection waiting for connections it replaces. */
interface Waiting {
  /** Connections that may still deliver messages sent before this one's. */
  before: Set<ConnectionRecord>;
  /** This one's app messages meanwhile, in order. */
  held: AppMessage[];
}

/**
 * The collapse of duplicate connections of one peer, message by message.
 *
 * @example
 * ```ts
 * import { fakeRecord } from "./_fake_connection.ts";
 * import { Handover } from "./handover.ts";
 * import type { AppMessage } from "./messages.ts";
 * const kept = fakeRecord({ id: "ab".repeat(16) });
 * const dropped = fakeRecord({ id: "ab".repeat(16) });
 * const delivered: string[] = [];
 * const handover = new Handover({
 *   registry: { byId: new Map([["ab".repeat(16), kept]]) },
 *   graceMs: 10_000,
 *   deliver: (_record, message) => delivered.push(message.body.text as string),
 * });
 * const text = (t: string): AppMessage => ({ t: "app", app: "echo", body: { text: t } });
 * handover.collapse(kept, dropped, false);
 * handover.receive(kept, text("second")); // held: `dropped` may still carry earlier ones
 * handover.receive(dropped, text("first"));
 * handover.heardBye(dropped); // the other side's last word on it
 * console.log(delivered); // ["first", "second"]
 * ```
 */
export class Handover {
  readonly #host: HandoverHost;
  readonly #waiting = new Map<ConnectionRecord, Waiting>();
  /** Connections on which nothing more will arrive: the other side said bye, or they closed. */
  readonly #ended = new WeakSet<ConnectionRecord>();

  /** A handover for the peer `host` describes. */
  constructor(host: HandoverHost) {
    this.#host = host;
  }

  /**
   * `dropped` gives way to `kept`, the peer's connection from now on. `switching`: `dropped`
   * was the peer's connection until now, so this side may have sent on it.
   */
  collapse(kept: ConnectionRecord, dropped: ConnectionRecord, switching: boolean): void {
    const { graceMs } = this.#host;
    const saidBye = dropped.connection.endSending(DUPLICATE, "duplicate", graceMs);
    if (this.#ended.has(dropped)) {
      // Both sides have said bye on it: it closes once ours is written.
      saidBye.then(() => dropped.connection.close(DUPLICATE));
      if (!this.#waiting.has(dropped)) return;
    }
    const waiting = this.#waiting.get(kept) ?? { before: new Set(), held: [] };
    waiting.before.add(dropped);
    this.#waiting.set(kept, waiting);
    if (switching) kept.connection.pauseSending();
  }

  /** An app message arrived on `record`: delivered, or held until earlier ones are. */
  receive(record: ConnectionRecord, message: AppMessage): void {
    const waiting = this.#waiting.get(record);
    if (waiting) waiting.held.push(message);
    else this.#host.deliver(record, message);
  }

  /**
   * The other side said `bye` code `duplicate` on `record`: nothing more will arrive on it. If
   * it is still the peer's connection (its twin has not opened here yet), it is used until the
   * twin opens, for `graceMs` at most; else both sides have said bye, and it closes.
   */
  heardBye(record: ConnectionRecord): void {
    record.replaced = true;
    this.#ended.add(record);
    const { registry, graceMs } = this.#host;
    if (registry.byId.get(record.remote!.id) === record) {
      record.twinDeadline = performance.now() + graceMs;
      record.connection.closeAfter(graceMs, `${DUPLICATE}: its twin never opened`);
    } else {
      const connection = record.connection;
      connection.endSending(DUPLICATE, "duplicate", graceMs).then(() =>
        connection.close(DUPLICATE)
      );
    }
    this.#settle(record);
  }

  /** `record` closed: what it held is delivered, and whatever waited for it goes on. */
  closed(record: ConnectionRecord): void {
    this.#ended.add(record);
    const waiting = this.#waiting.get(record);
    if (waiting) {
      this.#waiting.delete(record);
      for (const message of waiting.held) this.#host.deliver(record, message);
    }
    this.#settle(record);
  }

  /**
   * Once `done` can deliver nothing more (it ended, and holds nothing), connections that waited
   * for it deliver what they held and send what they queued, and the same goes for them.
   */
  #settle(done: ConnectionRecord): void {
    if (!this.#ended.has(done) || this.#waiting.has(done)) return;
    for (const [kept, waiting] of this.#waiting) {
      if (!waiting.before.delete(done) || waiting.before.size > 0) continue;
      this.#waiting.delete(kept);
      for (const message of waiting.held) this.#host.deliver(kept, message);
      kept.connection.resumeSending();
      this.#settle(kept);
    }
  }
}
