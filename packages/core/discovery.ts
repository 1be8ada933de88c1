/**
 * Local discovery: a peer announces itself by UDP multicast on every IPv4 interface, at start and
 * every few seconds, and hears the announcements of others of its room (see `announcement.ts`;
 * what it keeps of them, and how much it reads, is `heard_peers.ts`).
 *
 * Plain multicast on a fixed group and port rather than mDNS/DNS-SD: peers only need to find each
 * other, not be browsable by other programs, and one small packet is all of it
 * (docs/ARCHITECTURE.md, "Finding peers on a LAN"). It uses `node:dgram`, which joins multicast
 * groups in Deno 2.9.6 with no unstable flag (`Deno.listenDatagram` needs `--unstable-net`).
 *
 * Each interface gets its own sending socket, bound to its address and naming it as the multicast
 * interface: a host without a default route (a network namespace, a LAN without a router) has no
 * interface the kernel would pick by itself. The interfaces are read again at every announcement,
 * so that one that comes up later (a laptop that joins Wi-Fi) is used from then on.
 *
 * @module
 */
import dgram from "node:dgram";
import { type Announcement, encodeAnnouncement, roomKey } from "./announcement.ts";
import { type Heard, HeardPeers, type HeardStats } from "./heard_peers.ts";

import {
  ANNOUNCE_EVERY_MS,
  DEFAULT_ROOM,
  DISCOVERY_GROUP,
  DISCOVERY_PORT,
  type DiscoverySettings,
} from "./discovery_settings.ts";

export { ANNOUNCE_EVERY_MS, DISCOVERY_GROUP, DISCOVERY_PORT, type DiscoverySettings };

/** How to start discovery. */
export interface DiscoveryOptions extends DiscoverySettings {
  /** What this peer announces of itself. */
  announce: Announcement;
  /**
   * A peer of this room that runs one of the apps announced was heard (again): it listens at
   * `heard.host:heard.port`. Wait `waitMs` before dialing it (see {@linkcode firstDialWait}).
   */
  onHeard(heard: Heard, waitMs: number): void;
  /** Where problems and the interfaces used are reported (default `console.error`). */
  log?: (line: string) => void;
}

/** What discovery has done since it started. */
export interface DiscoveryStats extends HeardStats {
  /** Announcements sent (one per interface each time). */
  sent: number;
  /** The addresses of the interfaces it announces and listens on now. */
  interfaces: string[];
}

/** What LAN discovery did for a peer: {@linkcode DiscoveryStats}, and the dials it led to. */
export interface PeerDiscoveryStats extends DiscoveryStats {
  /** Dials of addresses heard on the LAN, each pinned to the id heard there. */
  dialed: number;
}

/**
 * How long a peer `myId` waits before it dials a peer `theirId` it heard, announcing every
 * `intervalMs` (default {@linkcode ANNOUNCE_EVERY_MS}). Two peers that hear each other would
 * otherwise dial each other at once, and of the two connections one is dropped, with whatever
 * apps had sent on it. The peer of lower id dials at once (its connection is the one both would
 * keep); the other waits two announcements and two rounds of upkeep (a second each), time for the
 * first to hear it and dial, and dials itself only if that did not happen (the other may be at
 * its target, or not hear it).
 *
 * @example
 * ```ts
 * import { firstDialWait } from "./discovery.ts";
 * console.log(firstDialWait("11".repeat(16), "22".repeat(16), 5000)); // 0
 * console.log(firstDialWait("22".repeat(16), "11".repeat(16), 5000)); // 12000
 * ```
 */
export function firstDialWait(
  myId: string,
  theirId: string,
  intervalMs = ANNOUNCE_EVERY_MS,
): number {
  return myId < theirId ? 0 : 2 * intervalMs + 2000;
}

/** A running discovery. */
export interface Discovery {
  /** Counters since it started. */
  stats(): DiscoveryStats;
  /** Stops announcing and listening; resolves once every socket is closed. */
  close(): Promise<void>;
}

/**
 * Starts announcing this peer and listening for others of its room. It returns at once: the
 * sockets are set up, and the first announcement sent, in the background (so that the caller,
 * a peer starting, has set itself up before anyone hears of it). It never throws: what keeps it
 * from running (no permission to read the interfaces, the UDP port taken without address reuse,
 * an announcement too large) is logged, and the discovery does nothing.
 *
 * @example
 * ```ts
 * import { startDiscovery } from "./discovery.ts";
 * const room = crypto.randomUUID();
 * const heard: string[] = [];
 * const a = startDiscovery({
 *   announce: { id: "aa".repeat(16), port: 9000, apps: ["chat"] },
 *   room,
 *   interfaces: ["127.0.0.1"],
 *   intervalMs: 100,
 *   onHeard: (peer) => heard.push(`${peer.host}:${peer.port}`),
 *   log: () => {},
 * });
 * const b = startDiscovery({
 *   announce: { id: "bb".repeat(16), port: 9001, apps: ["chat"] },
 *   room,
 *   interfaces: ["127.0.0.1"],
 *   intervalMs: 100,
 *   onHeard: () => {},
 *   log: () => {},
 * });
 * await new Promise((resolve) => setTimeout(resolve, 300));
 * console.log(heard[0]); // "127.0.0.1:9001"
 * await Promise.all([a.close(), b.close()]);
 * ```
 */
export function startDiscovery(options: DiscoveryOptions): Discovery {
  const log = options.log ?? ((line: string) => console.error(line));
  const key = roomKey(options.room ?? DEFAULT_ROOM);
  let packet: Uint8Array;
  try {
    packet = encodeAnnouncement(options.announce, key);
  } catch (error) {
    log(`LAN discovery is off: ${(error as Error).message}`);
    return idle();
  }
  if (!options.interfaces && !mayReadInterfaces()) {
    log(
      "LAN discovery is off: it needs --allow-sys=networkInterfaces to find this host's interfaces",
    );
    return idle();
  }
  const table = new HeardPeers(options.announce.id, key);
  const apps = new Set(options.announce.apps);
  const listener = dgram.createSocket({ type: "udp4", reuseAddr: true });
  listener.on("message", (bytes, from) => {
    const added = table.stats().added;
    const heard = table.read(bytes, from.address, performance.now());
    // A peer new to us may not have heard us yet: tell it now rather than at our next round.
    if (table.stats().added > added) answer();
    if (!heard?.apps.some((app) => apps.has(app))) return;
    try {
      options.onHeard(heard, firstDialWait(options.announce.id, heard.id, options.intervalMs));
    } catch (error) {
      log(`LAN discovery: ${(error as Error).message}`);
    }
  });
  const lan = new Interfaces(listener, log);
  let sent = 0;
  let closed = false;
  const announce = async () => {
    if (closed) return;
    try {
      await lan.use(options.interfaces ?? hostInterfaces());
      for (const sender of lan.senders()) {
        sender.send(packet, DISCOVERY_PORT, DISCOVERY_GROUP);
        sent++;
      }
    } catch (error) {
      log(`LAN discovery could not announce: ${(error as Error).message}`);
    }
  };
  // Binding, then every announcement, one after another (they share the sockets); closing waits
  // for the last.
  let round = bind(listener, DISCOVERY_PORT, "0.0.0.0").then(() => {
    listener.on("error", (error) => log(`LAN discovery stopped listening: ${error.message}`));
    return true;
  }, (error) => {
    log(`LAN discovery is off: cannot listen on UDP port ${DISCOVERY_PORT}: ${error}`);
    return false;
  }).then((listening) => {
    if (listening) next(announce).then(schedule);
  });
  const next = (work: () => Promise<void>) => round = round.then(work);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = () => {
    if (closed) return;
    const interval = options.intervalMs ?? ANNOUNCE_EVERY_MS;
    timer = setTimeout(() => next(announce).then(schedule), interval * (0.8 + Math.random() * 0.4));
  };
  let answered = -Infinity;
  let answering: ReturnType<typeof setTimeout> | undefined;
  /** Announces out of turn, soon and at most once a second: a flood of new ids costs one a second. */
  const answer = () => {
    if (closed || answering !== undefined) return;
    answering = setTimeout(() => {
      answering = undefined;
      answered = performance.now();
      next(announce);
    }, Math.max(0, answered + 1000 - performance.now()));
  };

  return {
    stats: () => ({ ...table.stats(), sent, interfaces: lan.addresses() }),
    close: async () => {
      closed = true;
      clearTimeout(timer);
      clearTimeout(answering);
      await round;
      await lan.use([]);
      await closeSocket(listener);
    },
  };
}

/**
 * The interfaces in use: for each, the group joined on the listening socket and a socket that
 * sends through it. One that cannot be used is reported once, and tried again only after it went
 * away and came back.
 */
class Interfaces {
  readonly #listener: dgram.Socket;
  readonly #log: (line: string) => void;
  readonly #senders = new Map<string, dgram.Socket>();
  readonly #refused = new Set<string>();

  constructor(listener: dgram.Socket, log: (line: string) => void) {
    this.#listener = listener;
    this.#log = log;
  }

  addresses(): string[] {
    return [...this.#senders.keys()];
  }

  senders(): dgram.Socket[] {
    return [...this.#senders.values()];
  }

  /** Uses exactly the interfaces of `addresses`: joins the new ones, leaves those gone. */
  async use(addresses: string[]): Promise<void> {
    const wanted = new Set(addresses);
    for (const address of this.#refused) if (!wanted.has(address)) this.#refused.delete(address);
    for (const [address, sender] of this.#senders) {
      if (wanted.has(address)) continue;
      this.#senders.delete(address);
      try {
        this.#listener.dropMembership(DISCOVERY_GROUP, address);
      } catch {
        // the interface is gone, and its membership with it
      }
      await closeSocket(sender);
    }
    const added: string[] = [];
    for (const address of wanted) {
      if (this.#senders.has(address) || this.#refused.has(address)) continue;
      try {
        this.#senders.set(address, await this.#join(address));
        added.push(address);
      } catch (error) {
        this.#refused.add(address);
        this.#log(`LAN discovery cannot use ${address}: ${(error as Error).message}`);
      }
    }
    if (added.length > 0) this.#log(`LAN discovery on ${added.join(", ")}`);
  }

  async #join(address: string): Promise<dgram.Socket> {
    this.#listener.addMembership(DISCOVERY_GROUP, address);
    const sender = dgram.createSocket({ type: "udp4" });
    sender.on("error", () => {}); // a send that fails is tried again at the next announcement
    try {
      await bind(sender, 0, address);
      sender.setMulticastInterface(address);
      sender.setMulticastTTL(1); // this network only
      sender.setMulticastLoopback(true); // peers on this host too
      return sender;
    } catch (error) {
      await closeSocket(sender);
      try {
        this.#listener.dropMembership(DISCOVERY_GROUP, address);
      } catch {
        // it may not have been joined
      }
      throw error;
    }
  }
}

/**
 * The interfaces a peer that listens on `host` announces on by default: every one (undefined) when
 * it listens on all addresses; that address alone when it is one IPv4 address (a peer bound to
 * loopback says nothing on the LAN); none for one IPv6 address (discovery is IPv4 only).
 *
 * @example
 * ```ts
 * import { interfacesFor } from "./discovery.ts";
 * console.log(interfacesFor("0.0.0.0"), interfacesFor("127.0.0.1")); // undefined ["127.0.0.1"]
 * ```
 */
export function interfacesFor(host: string): string[] | undefined {
  if (host === "0.0.0.0" || host === "::") return undefined;
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) ? [host] : [];
}

/** The addresses of this host's IPv4 interfaces other than loopback, or loopback if none. */
function hostInterfaces(): string[] {
  const ipv4 = Deno.networkInterfaces().filter((i) => i.family === "IPv4");
  const lan = ipv4.filter((i) => !i.address.startsWith("127."));
  return [...new Set((lan.length > 0 ? lan : ipv4).map((i) => i.address))];
}

/** True when `Deno.networkInterfaces()` may be called without a prompt or an error. */
function mayReadInterfaces(): boolean {
  return Deno.permissions.querySync({ name: "sys", kind: "networkInterfaces" }).state ===
    "granted";
}

/** A discovery that does nothing: what runs when discovery cannot. */
function idle(): Discovery {
  const stats = { heard: 0, added: 0, overRate: 0, invalid: 0, overQuota: 0, known: 0, sent: 0 };
  return { stats: () => ({ ...stats, interfaces: [] }), close: () => Promise.resolve() };
}

function bind(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, address, () => {
      socket.off("error", reject);
      resolve();
    });
  });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // closed already
    }
  });
}
