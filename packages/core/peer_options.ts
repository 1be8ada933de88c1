/**
 * How a peer is configured: every option, its default, and the defaults applied once, when the
 * peer starts.
 *
 * @module
 */
import type { AppDefinition } from "./app_channel.ts";
import { type ConnectionSetup, ringBytesFor } from "./connection.ts";
import type { DiscoverySettings } from "./discovery.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "./frame.ts";
import type { Identity } from "./identity.ts";

/** How to start a peer. Every field has a default. */
export interface PeerOptions {
  /** TCP port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on; default `0.0.0.0` (all interfaces). */
  host?: string;
  /** The identity to use. Default: loaded from (or created in) `dataDir`, else a fresh one in memory. */
  identity?: Identity;
  /**
   * Directory holding the peer's key pair and its address book (`peers.json`), kept across
   * restarts; or a function of the port the peer listens on, once bound (for port 0).
   */
  dataDir?: string | ((port: number) => string);
  /** Nickname announced in `hello`. */
  nick?: string;
  /** The apps this peer runs. */
  apps?: AppDefinition[];
  /** Most connections at once, open or handshaking (default 64). */
  maxConnections?: number;
  /**
   * Most connections at once with one remote IP address (default 16): one host cannot take
   * every slot. Loopback counts as one address like any other.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Messages a second one connection may send us (a frame may hold several), on average, with
   * bursts of twice that (default 10,000). A peer over it is dropped (`bye` code `limit`) and its
   * address backed off.
   */
  maxFramesPerSecond?: number;
  /**
   * Bytes a second one connection may send us (default 1 GiB). Past it we read that connection
   * more slowly (TCP backpressure), since a fast transfer is no offence. 0 turns it off.
   */
  maxBytesPerSecond?: number;
  /** How long an address dropped for breaking a limit is refused, doubling per offence (default 10,000 ms). */
  penaltyMs?: number;
  /** Most inbound connections still in their handshake (default 16); more are refused at once. */
  maxPendingHandshakes?: number;
  /**
   * Most inbound connections in their handshake from one remote IP address (default 4): silent
   * sockets from one host cannot take every handshake slot.
   */
  maxPendingPerAddress?: number;
  /** Connections upkeep tries to keep by dialing known addresses (default 8; 0 disables). */
  targetConnections?: number;
  /** Largest frame body accepted (default 2 MiB). */
  maxFrameSize?: number;
  /** Unsent bytes queued for one peer past which it is dropped as too slow (default 16 MiB). */
  maxQueuedBytes?: number;
  /** Time allowed for the handshake, from our hello (default 10,000 ms). */
  handshakeTimeoutMs?: number;
  /** Interval between pings to each neighbour (default 2000 ms). */
  heartbeatIntervalMs?: number;
  /** Silence after which a neighbour is declared dead (default 10000 ms). */
  heartbeatTimeoutMs?: number;
  /** Close connections that carried no app message for this long (default 0: never). */
  idleTimeoutMs?: number;
  /**
   * LAN discovery (default off): announce this peer by UDP multicast, and dial the peers of its
   * room heard there that run one of its apps, each pinned to the id it announced (`true`: with
   * the default settings). Reading the host's interfaces needs `--allow-sys=networkInterfaces`
   * unless `interfaces` names them. See `discovery.ts`.
   */
  discovery?: DiscoverySettings | boolean;
  /** Where connection errors are reported (default `console.error`). */
  log?: (line: string) => void;
}

/** The options a running peer uses: every limit and timer filled in with its default. */
export type ResolvedPeerOptions = Required<
  Omit<PeerOptions, "identity" | "dataDir" | "apps" | "host" | "port" | "nick" | "discovery">
>;

/**
 * Fills every unset limit and timer of `options` with its default.
 *
 * @example
 * ```ts
 * import { resolvePeerOptions } from "./peer_options.ts";
 * const options = resolvePeerOptions({ maxConnections: 4 });
 * console.log(options.maxConnections, options.targetConnections); // 4 8
 * ```
 */
export function resolvePeerOptions(options: PeerOptions): ResolvedPeerOptions {
  return {
    maxConnections: options.maxConnections ?? 64,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? 16,
    maxFramesPerSecond: options.maxFramesPerSecond ?? 10_000,
    maxBytesPerSecond: options.maxBytesPerSecond ?? 2 ** 30,
    penaltyMs: options.penaltyMs ?? 10_000,
    maxPendingHandshakes: options.maxPendingHandshakes ?? 16,
    maxPendingPerAddress: options.maxPendingPerAddress ?? 4,
    targetConnections: options.targetConnections ?? 8,
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    maxQueuedBytes: options.maxQueuedBytes ?? 16 * 2 ** 20,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 2000,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 0,
    log: options.log ?? ((line) => console.error(line)),
  };
}

/**
 * What every connection of a peer is told about it: who it is, where it listens, its apps, its
 * limits. `sinks` is empty: the sinks in force are added as each connection opens.
 *
 * @example
 * ```ts
 * import { generateIdentity } from "./identity.ts";
 * import { connectionSetup, resolvePeerOptions } from "./peer_options.ts";
 * const identity = await generateIdentity();
 * const setup = connectionSetup(identity, "ada", { hostname: "0.0.0.0", port: 7000 }, [],
 *   resolvePeerOptions({}), false);
 * console.log(setup.listen); // { host: "", port: 7000 }: "wherever I am reached"
 * ```
 */
export function connectionSetup(
  identity: Identity,
  nick: string,
  bound: { hostname: string; port: number },
  apps: AppDefinition[],
  options: ResolvedPeerOptions,
  plaintext: boolean,
): ConnectionSetup {
  const anyHost = bound.hostname === "0.0.0.0" || bound.hostname === "::";
  return {
    identity,
    nick,
    listen: { host: anyHost ? "" : bound.hostname, port: bound.port },
    apps: Object.fromEntries(apps.map((app) => [app.name, app.schema])),
    bulk: Object.fromEntries(apps.flatMap((app) => app.bulk ? [[app.name, app.bulk]] : [])),
    sinks: [],
    maxFrameSize: options.maxFrameSize,
    maxQueuedBytes: options.maxQueuedBytes,
    ringBytes: ringBytesFor(apps.some((app) => app.bulk !== undefined)),
    limits: {
      framesPerSecond: options.maxFramesPerSecond,
      bytesPerSecond: options.maxBytesPerSecond,
    },
    ...(plaintext ? { plaintext: true } : {}),
  };
}
