/**
 * Local discovery: a peer announces itself by UDP multicast on every IPv4 interface, at start and
 * every few seconds, and hears the announcements of others of its room (see `announcement.ts`).
 *
 * Plain multicast on a fixed group and port rather than mDNS/DNS-SD: peers only need to find each
 * other, not be browsable by other programs, and one small packet is all of it
 * (docs/ARCHITECTURE.md, "Finding peers on a LAN"). It uses `node:dgram`, which joins multicast
 * groups in Deno 2.9.6 with no unstable flag (`Deno.listenDatagram` needs `--unstable-net`).
 *
 * What it hears is a hint. Every announcement is size-checked and its room tag verified; at most
 * 200 are read a second (the rest are dropped unread), at most 8 ids are kept per sending address
 * and 256 in all, so a flood of forged announcements cannot grow memory or turn into a dial storm.
 *
 * @module
 */
import dgram from "node:dgram";
import type { Address } from "./address.ts";
import {
  type Announcement,
  decodeAnnouncement,
  DEFAULT_ROOM,
  encodeAnnouncement,
  roomKey,
} from "./announcement.ts";
import { BoundedMap } from "./bounded.ts";

/** The multicast group announcements go to (organization-local scope, RFC 2365). */
export const DISCOVERY_GROUP = "239.255.77.84";
/** The UDP port announcements go to. */
export const DISCOVERY_PORT = 47784;

/** How to announce and listen. */
export interface DiscoveryOptions extends Announcement {
  /** The room: only peers that name the same one find each other (default one for everyone). */
  room?: string;
  /** Between two announcements, in ms (default 5,000, spread ±20%). */
  intervalMs?: number;
  /** The IPv4 addresses of the interfaces to use (default: every non-loopback IPv4 interface). */
  interfaces?: string[];
  /** The UDP port to announce to and listen on (default {@linkcode DISCOVERY_PORT}). */
  udpPort?: number;
  /** A peer of this room was heard: new, or at a new address. */
  onPeer(found: Announcement & Address): void;
  /** Where problems are reported (default `console.error`). */
  log?: (line: string) => void;
}

/** What discovery has seen since it started. */
export interface DiscoveryStats {
  /** Announcements sent (one per interface each time). */
  sent: number;
  /** Announcements of this room heard from other peers. */
  heard: number;
  /** Packets dropped: over the rate, of another room, malformed, or past a sender's quota. */
  dropped: number;
  /** Peers of this room known now. */
  known: number;
}

/** A running discovery. */
export interface Discovery {
  /** Counters since it started. */
  stats(): DiscoveryStats;
  /** Stops announcing and listening. */
  close(): Promise<void>;
}

const READS_PER_SECOND = 200;
const IDS_PER_SENDER = 8;
const MAX_KNOWN = 256;

/**
 * Starts announcing this peer and listening for others of its room.
 *
 * @example
 * ```ts ignore
 * import { startDiscovery } from "./discovery.ts";
 * const discovery = await startDiscovery({
 *   id: "ab".repeat(16), port: 9000, apps: ["chat"],
 *   onPeer: (found) => console.log(`found ${found.id} at ${found.host}:${found.port}`),
 * });
 * await discovery.close();
 * ```
 */
export async function startDiscovery(options: DiscoveryOptions): Promise<Discovery> {
  const log = options.log ?? ((line: string) => console.error(line));
  const key = roomKey(options.room ?? DEFAULT_ROOM);
  const udpPort = options.udpPort ?? DISCOVERY_PORT;
  const interfaces = options.interfaces ?? ipv4Interfaces();
  const stats: DiscoveryStats = { sent: 0, heard: 0, dropped: 0, known: 0 };
  const known = new BoundedMap<string, Announcement & Address>(MAX_KNOWN);
  const bySender = new BoundedMap<string, Set<string>>(MAX_KNOWN);
  let reads = 0;
  let second = Math.floor(performance.now() / 1000);

  const listener = dgram.createSocket({ type: "udp4", reuseAddr: true });
  listener.on("error", (error) => log(`LAN discovery stopped listening: ${error.message}`));
  listener.on("message", (bytes, from) => {
    const now = Math.floor(performance.now() / 1000);
    if (now !== second) [second, reads] = [now, 0];
    if (++reads > READS_PER_SECOND) return void stats.dropped++;
    const heard = decodeAnnouncement(new Uint8Array(bytes), key);
    if (!heard || heard.id === options.id) {
      if (!heard) stats.dropped++;
      return;
    }
    let ids = bySender.get(from.address);
    if (!ids) bySender.set(from.address, ids = new Set());
    if (!ids.has(heard.id) && ids.size >= IDS_PER_SENDER) return void stats.dropped++;
    ids.add(heard.id);
    stats.heard++;
    const before = known.get(heard.id);
    const found = { ...heard, host: from.address };
    known.set(heard.id, found);
    known.touch(heard.id);
    stats.known = known.size;
    if (!before || before.host !== found.host || before.port !== found.port) options.onPeer(found);
  });
  await new Promise<void>((resolve) => listener.bind(udpPort, "0.0.0.0", resolve));
  const senders: dgram.Socket[] = [];
  for (const address of interfaces) {
    try {
      listener.addMembership(DISCOVERY_GROUP, address);
    } catch (error) {
      log(`LAN discovery cannot listen on ${address}: ${(error as Error).message}`);
      continue;
    }
    const sender = dgram.createSocket({ type: "udp4" });
    sender.on("error", () => {}); // a send that fails is retried at the next announcement
    await new Promise<void>((resolve) => sender.bind(0, address, resolve));
    sender.setMulticastInterface(address);
    sender.setMulticastTTL(1); // this network only
    sender.setMulticastLoopback(true); // peers on this host too
    senders.push(sender);
  }
  if (senders.length === 0) log("LAN discovery found no IPv4 interface with multicast");

  const packet = encodeAnnouncement(options, key);
  const announce = () => {
    for (const sender of senders) {
      sender.send(packet, udpPort, DISCOVERY_GROUP);
      stats.sent++;
    }
  };
  let timer: ReturnType<typeof setTimeout>;
  const schedule = () => {
    const interval = options.intervalMs ?? 5000;
    timer = setTimeout(() => {
      announce();
      schedule();
    }, interval * (0.8 + Math.random() * 0.4));
  };
  announce();
  schedule();

  return {
    stats: () => ({ ...stats }),
    close: async () => {
      clearTimeout(timer);
      await Promise.all(
        [listener, ...senders].map((socket) =>
          new Promise<void>((resolve) => socket.close(() => resolve()))
        ),
      );
    },
  };
}

/** The addresses of this host's IPv4 interfaces other than loopback. */
function ipv4Interfaces(): string[] {
  try {
    return Deno.networkInterfaces()
      .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
      .map((i) => i.address);
  } catch {
    return []; // no --allow-sys: nothing to announce on
  }
}
