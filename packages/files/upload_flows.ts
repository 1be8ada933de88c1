/**
 * Upload flows: what a seeder tells its user. A flow is one file (or folder) going to one peer:
 * it starts with the first piece sent, and stops once that peer has asked for nothing of it for
 * a while, or left, with the bytes sent and the time they took.
 *
 * @module
 */

/**
 * A flow started or stopped. `seconds` runs from the start of the first send to the end of the
 * last (the idle wait before a stop is not counted), so `bytes / seconds` is the rate.
 *
 * @example
 * ```ts
 * import type { UploadFlowEvent } from "./upload_flows.ts";
 * const stopped: UploadFlowEvent = { type: "stop", peer: "bob", file: "ab".repeat(32), bytes: 300, seconds: 2.1, reason: "idle" };
 * ```
 */
export interface UploadFlowEvent {
  type: "start" | "stop";
  /** The peer's id. */
  peer: string;
  /** The root of the file or folder. */
  file: string;
  /** Bytes sent in the flow (none at its start). */
  bytes: number;
  seconds: number;
  /** Why a flow stopped: nothing asked for a while, the peer left, or this peer closed. */
  reason?: "idle" | "left" | "closed";
}

interface Flow {
  peer: string;
  file: string;
  startedAt: number;
  lastAt: number;
  bytes: number;
  /** Sends begun and not ended: a flow in the middle of one is not idle. */
  sending: number;
}

/**
 * Flows by peer and file.
 *
 * @example
 * ```ts
 * import { UploadFlows } from "./upload_flows.ts";
 * const events: string[] = [];
 * const flows = new UploadFlows((e) => events.push(`${e.type} ${e.peer} ${e.bytes}`), 2000);
 * flows.sending("bob", "f", 0);
 * flows.sent("bob", "f", 16384, 100);
 * flows.sweep(1000); // too soon
 * flows.sweep(2100);
 * console.log(events); // ["start bob 0", "stop bob 16384"]
 * ```
 */
export class UploadFlows {
  readonly #onFlow: (event: UploadFlowEvent) => void;
  readonly #idleMs: number;
  readonly #flows = new Map<string, Flow>();

  /** Flows told to `onFlow`, each stopped after `idleMs` without a send. */
  constructor(onFlow: (event: UploadFlowEvent) => void, idleMs: number) {
    this.#onFlow = onFlow;
    this.#idleMs = idleMs;
  }

  /** A piece of `file` begins going to `peer` at `now`: the flow starts if it had not. */
  sending(peer: string, file: string, now: number): void {
    const id = `${peer}\0${file}`;
    let flow = this.#flows.get(id);
    if (!flow) {
      flow = { peer, file, startedAt: now, lastAt: now, bytes: 0, sending: 0 };
      this.#flows.set(id, flow);
      this.#onFlow({ type: "start", peer, file, bytes: 0, seconds: 0 });
    }
    flow.sending++;
  }

  /** `bytes` of `file` went to `peer`, the send ending at `now`. */
  sent(peer: string, file: string, bytes: number, now: number): void {
    const flow = this.#flows.get(`${peer}\0${file}`);
    if (!flow) return;
    flow.sending--;
    flow.bytes += bytes;
    flow.lastAt = now;
  }

  /** Stops the flows that sent nothing since `now` minus the idle time. */
  sweep(now: number): void {
    for (const flow of [...this.#flows.values()]) {
      if (flow.sending === 0 && now - flow.lastAt >= this.#idleMs) this.#stop(flow, "idle");
    }
  }

  /** `peer` left: its flows stop. */
  drop(peer: string): void {
    for (const flow of [...this.#flows.values()]) if (flow.peer === peer) this.#stop(flow, "left");
  }

  /** Every flow stops. */
  close(): void {
    for (const flow of [...this.#flows.values()]) this.#stop(flow, "closed");
  }

  #stop(flow: Flow, reason: "idle" | "left" | "closed"): void {
    this.#flows.delete(`${flow.peer}\0${flow.file}`);
    const { peer, file, bytes } = flow;
    const seconds = (flow.lastAt - flow.startedAt) / 1000;
    this.#onFlow({ type: "stop", peer, file, bytes, seconds, reason });
  }
}
