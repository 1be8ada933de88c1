// Discovery over real sockets, on loopback: a socket that names 127.0.0.1 as its multicast
// interface reaches those that joined the group there, with no setting of the host's changed.
import assert from "node:assert/strict";
import { openSockets } from "./_open_sockets.ts";
import type { Announcement } from "./announcement.ts";
import {
  type Discovery,
  type DiscoveryOptions,
  interfacesFor,
  startDiscovery,
} from "./discovery.ts";
import type { Heard } from "./heard_peers.ts";
import { waitFor } from "./testing.ts";

const idOf = (n: number) => n.toString(16).padStart(32, "0");

/** A discovery on loopback, every 50 ms, recording what it hears and logs. */
function onLoopback(
  announce: Announcement,
  room: string,
  options: Partial<DiscoveryOptions> = {},
): { discovery: Discovery; heard: Heard[]; waits: number[]; logged: string[] } {
  const heard: Heard[] = [];
  const waits: number[] = [];
  const logged: string[] = [];
  const discovery = startDiscovery({
    announce,
    room,
    interfaces: ["127.0.0.1"],
    intervalMs: 50,
    onHeard: (peer, waitMs) => {
      heard.push(peer);
      waits.push(waitMs);
    },
    log: (line) => logged.push(line),
    ...options,
  });
  return { discovery, heard, waits, logged };
}

Deno.test("two peers of a room hear each other: id, apps, and where they listen", async () => {
  const room = crypto.randomUUID();
  const a = onLoopback({ id: idOf(1), port: 9001, apps: ["chat"] }, room);
  const b = onLoopback({ id: idOf(2), port: 9002, apps: ["chat", "files"] }, room);
  try {
    await waitFor(() => a.heard.length > 0 && b.heard.length > 0, "each to hear the other");
    assert.deepEqual(a.heard[0], {
      id: idOf(2),
      port: 9002,
      apps: ["chat", "files"],
      host: "127.0.0.1",
    });
    assert.deepEqual(b.heard[0], { id: idOf(1), port: 9001, apps: ["chat"], host: "127.0.0.1" });
    assert.ok(a.heard.every((peer) => peer.id === idOf(2)), "never itself");
    // The lower id dials at once; the other waits two announcements and two upkeep rounds.
    assert.deepEqual([a.waits[0], b.waits[0]], [0, 2 * 50 + 2000]);
    const stats = a.discovery.stats();
    assert.deepEqual(stats.interfaces, ["127.0.0.1"]);
    assert.ok(stats.sent >= 1 && stats.heard >= 1 && stats.known === 1);
    assert.deepEqual(a.logged, ["LAN discovery on 127.0.0.1"]);
  } finally {
    await Promise.all([a.discovery.close(), b.discovery.close()]);
  }
});

Deno.test("peers of another room, and peers that run none of our apps, are not reported", async () => {
  const room = crypto.randomUUID();
  const a = onLoopback({ id: idOf(1), port: 9001, apps: ["chat"] }, room);
  const others = [
    onLoopback({ id: idOf(2), port: 9002, apps: ["chat"] }, crypto.randomUUID()),
    onLoopback({ id: idOf(3), port: 9003, apps: ["files"] }, room),
    onLoopback({ id: idOf(4), port: 9004, apps: ["chat"] }, room),
  ];
  try {
    await waitFor(() => a.discovery.stats().invalid > 0, "the other room's announcement");
    await waitFor(() => a.discovery.stats().known === 2, "both peers of the room");
    await waitFor(() => a.heard.length > 0, "the peer that chats");
    assert.deepEqual([...new Set(a.heard.map((peer) => peer.id))], [idOf(4)]);
  } finally {
    await Promise.all([a, ...others].map(({ discovery }) => discovery.close()));
  }
});

Deno.test({
  name: "without leave to read the interfaces, discovery says what it needs and does nothing",
  permissions: { net: true, sys: false },
  async fn() {
    const logged: string[] = [];
    const discovery = startDiscovery({
      announce: { id: idOf(1), port: 9001, apps: ["chat"] },
      onHeard: () => {},
      log: (line) => logged.push(line),
    });
    assert.deepEqual(logged, [
      "LAN discovery is off: it needs --allow-sys=networkInterfaces to find this host's interfaces",
    ]);
    assert.equal(discovery.stats().sent, 0);
    await discovery.close();
  },
});

Deno.test("an announcement no peer would take is refused at the start, saying why", async () => {
  const apps = Array.from({ length: 16 }, (_, i) => `app-${i}`.padEnd(32, "x"));
  const { discovery, logged } = onLoopback(
    { id: idOf(1), port: 9001, apps },
    crypto.randomUUID(),
  );
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^LAN discovery is off: announcing apps .* more than the 512 peers/);
  assert.deepEqual(discovery.stats().interfaces, []);
  await discovery.close();
});

Deno.test("a closed discovery is silent: it neither announces nor hears", async () => {
  const room = crypto.randomUUID();
  const a = onLoopback({ id: idOf(1), port: 9001, apps: ["chat"] }, room);
  const b = onLoopback({ id: idOf(2), port: 9002, apps: ["chat"] }, room);
  await waitFor(() => b.heard.length > 0, "b to hear a");
  await a.discovery.close();
  const sent = a.discovery.stats().sent;
  const heardByA = a.heard.length;
  const c = onLoopback({ id: idOf(3), port: 9003, apps: ["chat"] }, room);
  await waitFor(() => b.heard.some((peer) => peer.id === idOf(3)), "b to hear c");
  const heardOfA = b.heard.filter((peer) => peer.id === idOf(1)).length;
  await new Promise((resolve) => setTimeout(resolve, 200)); // several rounds of b and c
  assert.equal(a.discovery.stats().sent, sent);
  assert.equal(a.heard.length, heardByA);
  assert.equal(b.heard.filter((peer) => peer.id === idOf(1)).length, heardOfA);
  await Promise.all([b.discovery.close(), c.discovery.close()]);
});

Deno.test("closing lets go of every socket and timer: a process that only ran discovery ends", async () => {
  const before = await openSockets();
  const { discovery } = onLoopback(
    { id: idOf(1), port: 9001, apps: ["chat"] },
    crypto.randomUUID(),
  );
  await waitFor(() => discovery.stats().sent > 0, "the first announcement");
  assert.equal(await openSockets(), before + 2, "one to listen, one to send on 127.0.0.1");
  await discovery.close();
  assert.equal(await openSockets(), before);
  // The test runner does not see node:dgram's sockets nor wait for timers: a process does.
  const module = new URL("./discovery.ts", import.meta.url).href;
  const script = `
    const { startDiscovery } = await import(${JSON.stringify(module)});
    const discovery = startDiscovery({
      announce: { id: "${idOf(1)}", port: 9001, apps: ["chat"] },
      interfaces: ["127.0.0.1"], intervalMs: 50, onHeard: () => {}, log: () => {},
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await discovery.close();
    console.log("closed");
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const output = await child.output();
  clearTimeout(timer);
  assert.equal(new TextDecoder().decode(output.stdout).trim(), "closed");
  assert.equal(output.code, 0, "it ended by itself: " + new TextDecoder().decode(output.stderr));
});

Deno.test("a peer bound to one address announces there only; bound to all, everywhere", () => {
  assert.equal(interfacesFor("0.0.0.0"), undefined);
  assert.equal(interfacesFor("::"), undefined);
  assert.deepEqual(interfacesFor("127.0.0.1"), ["127.0.0.1"]);
  assert.deepEqual(interfacesFor("10.1.2.3"), ["10.1.2.3"]);
  assert.deepEqual(interfacesFor("::1"), [], "discovery is IPv4 only");
});
