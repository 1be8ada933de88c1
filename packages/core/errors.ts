/**
 * Typed errors of the core. Each names what went wrong in words a user can act on.
 *
 * @module
 */

/** What kind of protocol violation a {@linkcode ProtocolError} reports. */
export type ProtocolErrorCode =
  | "frame-too-large"
  | "truncated"
  | "bad-msgpack"
  | "bad-message"
  | "version-mismatch"
  | "unknown-app"
  | "bad-identity"
  | "unexpected-message"
  | "decrypt-failed"
  | "bad-handshake"
  | "wrong-peer"
  | "rate-limited"
  | "not-meshtalk";

/**
 * A peer sent bytes that break the wire protocol. The connection that carried them is closed;
 * every other connection keeps working.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@meshtalk/core";
 * const err = new ProtocolError("frame-too-large", "frame of 9 MiB exceeds the 2 MiB limit");
 * console.log(err.code); // "frame-too-large"
 * ```
 */
export class ProtocolError extends Error {
  /** Which rule was broken. */
  readonly code: ProtocolErrorCode;
  /** Builds the error from a code and a human-readable description. */
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}

/**
 * Why a connection could not be made or was lost: `unreachable` (nothing answered at the address),
 * `timeout` (no handshake in time, or no answer to a ping), `self` (the address is this peer),
 * `full` (a limit of ours refused it), `refused` (the other side refused it), `closed` (the
 * connection or the peer is closing), `wrong-peer` (the peer dialed proved another id than
 * `expectPeer`), `not-meshtalk` (the address answers in another protocol: HTTP, SSH, TLS...).
 */
export type ConnectErrorReason =
  | "unreachable"
  | "timeout"
  | "self"
  | "full"
  | "refused"
  | "closed"
  | "wrong-peer"
  | "not-meshtalk";

/**
 * A connection could not be made or was refused: unreachable address, handshake timeout,
 * a connection to ourselves, the connection limit, or a peer that said `bye` during the handshake.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@meshtalk/core";
 * const err = new ConnectError("self", "refusing to connect to ourselves at 127.0.0.1:9000");
 * console.log(err.reason); // "self"
 * ```
 */
export class ConnectError extends Error {
  /** Why, in a word a program can check: see {@linkcode ConnectErrorReason}. */
  readonly reason: ConnectErrorReason;
  /** Builds the error from a reason and a human-readable description. */
  constructor(reason: ConnectErrorReason, message: string) {
    super(message);
    this.name = "ConnectError";
    this.reason = reason;
  }
}
