/**
 * What a peer reports to the apps and users that listen to it, and the emitter it reports
 * through.
 *
 * @module
 */
import { Emitter } from "./emitter.ts";
import type { StoredData } from "./messages.ts";
import type { PeerInfo } from "./registry.ts";

/** What a peer reports. */
export interface PeerEvents {
  /** A peer's first connection completed its handshake. */
  "peer:connected": PeerInfo;
  /** A peer's last connection closed. */
  "peer:disconnected": { peer: PeerInfo; reason: string };
  /** An app message arrived, already checked against the app's schema. */
  message: { from: PeerInfo; app: string; body: Record<string, unknown>; stored?: StoredData };
  /**
   * A connection failed: a protocol violation, a refused dial, a dead peer. `message` is the
   * sentence the peer's log said of it, address included.
   */
  error: { address: string; peer?: PeerInfo; error: Error; message: string };
}

/**
 * The emitter of a peer's events: a handler that throws is written to `log` and the other
 * handlers still run.
 *
 * @example
 * ```ts
 * import { peerEmitter } from "./peer_events.ts";
 * const events = peerEmitter((line) => console.log(line));
 * events.on("error", () => {
 *   throw new Error("oops");
 * });
 * events.emit("error", { address: "10.0.0.7:7000", error: new Error("refused"), message: "refused" });
 * // logs: a "error" handler threw: Error: oops ...
 * ```
 */
export function peerEmitter(log: (line: string) => void): Emitter<PeerEvents> {
  return new Emitter<PeerEvents>((event, error) => {
    log(`a "${event}" handler threw: ${(error as Error).stack ?? error}`);
  });
}
