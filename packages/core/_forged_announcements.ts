// Helper of the tests that flood peers with forged LAN announcements: random ids and ports, a
// third with the room's valid tag (the forger knows the room's name), a third with a wrong tag,
// a third random bytes, sent round-robin from several source addresses. Run as a script, it
// floods from a host of its own:
// `deno run -A _forged_announcements.ts <room> <app> <count> <address>...`.
import dgram from "node:dgram";
import { encodeAnnouncement, roomKey } from "./announcement.ts";
import { toHex } from "./bytes.ts";
import { DISCOVERY_GROUP, DISCOVERY_PORT } from "./discovery.ts";

/** What was sent. */
export interface Flood {
  /** Packets sent. */
  sent: number;
  /** Of them, announcements with the room's valid tag. */
  valid: number;
}

/**
 * Sends `count` forged packets to the discovery group, from each address of `from` in turn
 * (each must be an address of this host on an interface with multicast), about 5,000 a second;
 * the announcements name `app`, so that its peers take them.
 */
export async function forgeAnnouncements(
  room: string,
  app: string,
  count: number,
  from: string[],
): Promise<Flood> {
  const key = roomKey(room);
  const sockets = await Promise.all(from.map(async (address) => {
    const socket = dgram.createSocket({ type: "udp4" });
    socket.on("error", () => {}); // a packet lost is a packet lost
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    socket.setMulticastInterface(address);
    socket.setMulticastTTL(1);
    return socket;
  }));
  const random = (bytes: number) => crypto.getRandomValues(new Uint8Array(bytes));
  const randomPort = () => 1024 + Math.floor(Math.random() * 64_000);
  let valid = 0;
  for (let i = 0; i < count; i++) {
    const announcement = { id: toHex(random(16)), port: randomPort(), apps: [app] };
    let packet: Uint8Array;
    if (i % 3 === 0) {
      packet = encodeAnnouncement(announcement, key);
      valid++;
    } else if (i % 3 === 1) {
      const json = { meshtalk: 1, ...announcement, room: toHex(random(16)) };
      packet = new TextEncoder().encode(JSON.stringify(json));
    } else {
      packet = random(1 + Math.floor(Math.random() * 600));
    }
    sockets[i % sockets.length].send(packet, DISCOVERY_PORT, DISCOVERY_GROUP);
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 100)); // the last sends leave
  await Promise.all(sockets.map((socket) => new Promise<void>((done) => socket.close(done))));
  return { sent: count, valid };
}

if (import.meta.main) {
  const [room, app, count, ...from] = Deno.args;
  console.log(JSON.stringify(await forgeAnnouncements(room, app, Number(count), from)));
}
