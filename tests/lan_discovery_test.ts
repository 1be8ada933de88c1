// LAN discovery between real chat processes, each on a host of its own: network namespaces this
// test makes, joined by bridges that pass multicast (see _hosts.ts). No peer is given an address
// unless the test says so. Needs root; skipped, saying why, otherwise.
import assert from "node:assert/strict";
import { randomBytes } from "@meshtalk/core/testing";
import { HINT_DIAL_BURST, HINT_DIALS_PER_SECOND } from "../packages/core/upkeep.ts";
import { Hosts } from "./_hosts.ts";
import { type Event, MeshProcess } from "./_process.ts";

const unavailable = await Hosts.available();
if (unavailable) console.log(`LAN discovery tests skipped: ${unavailable}`);

const root = new URL("../", import.meta.url).pathname;
const isMessage = (text: string) => (e: Event) => e.event === "message" && e.text === text;
const connectedTo = (id: string) => (e: Event) => e.event === "peer-connected" && e.id === id;

/** A chat process on host `i`, with no address given unless in `args`; resolves once ready. */
async function chat(
  hosts: Hosts,
  i: number,
  dir: string,
  args: string[] = [],
): Promise<{ process: MeshProcess; id: string; port: number }> {
  const name = `h${i}`;
  const process = new MeshProcess(
    "apps/cli/chat.ts",
    ["0", "--json", "--nick", name, "--data-dir", `${dir}/${name}`, ...args],
    { namespace: hosts.namespace(i), discovery: !args.includes("--no-discovery") },
  );
  const ready = await process.waitFor((e) => e.event === "ready", `${name} ready`, 30_000);
  return { process, id: ready.id as string, port: ready.port as number };
}

/** Runs `body` with `count` hosts and a temporary dir; stops every process it lists, then the hosts. */
async function withHosts(
  { count, split = count, wired }: { count: number; split?: number; wired?: boolean },
  body: (hosts: Hosts, dir: string, started: MeshProcess[]) => Promise<void>,
): Promise<void> {
  const hosts = await Hosts.create(count, split, { wired });
  const dir = await Deno.makeTempDir({ prefix: "meshtalk-lan-" });
  const started: MeshProcess[] = [];
  try {
    await body(hosts, dir, started);
  } finally {
    // SIGTERM: chat would end at EOF, share only on a signal.
    await Promise.all(started.map((process) => process.kill("SIGTERM")));
    await hosts.close();
    await Deno.remove(dir, { recursive: true });
  }
}

type Chat = Awaited<ReturnType<typeof chat>>;

/** A test with `hosts.count` hosts made for it (see {@linkcode withHosts}); skipped without root. */
function lanTest(
  name: string,
  hosts: { count: number; split?: number; wired?: boolean },
  body: (hosts: Hosts, dir: string, started: MeshProcess[]) => Promise<void>,
): void {
  Deno.test({ name, ignore: unavailable !== null, fn: () => withHosts(hosts, body) });
}

/** Waits until each of `peers` has connected to every other, all within `timeoutMs` in all. */
async function meshed(peers: Chat[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const peer of peers) {
    for (const other of peers) {
      if (other === peer) continue;
      const left = Math.max(1, deadline - Date.now());
      await peer.process.waitFor(connectedTo(other.id), `${other.id} at ${peer.id}`, left);
    }
  }
}

lanTest("three chat peers on three hosts, given no address, find each other within 10 s", {
  count: 3,
  split: 2,
}, async (hosts, dir, started) => {
  // Two hosts on one bridge, the third across the trunk on the other.
  const peers = await Promise.all([0, 1, 2].map((i) => chat(hosts, i, dir)));
  started.push(...peers.map((peer) => peer.process));
  await meshed(peers, 10_000);
  await peers[2].process.type("hello from across the trunk");
  for (const peer of peers.slice(0, 2)) {
    await peer.process.waitFor(isMessage("hello from across the trunk"), "the line");
  }
  assert.ok(
    peers[0].process.stderr.some((line) => line.includes(`LAN discovery on ${hosts.address(0)}`)),
    "it says where it announces",
  );
});

lanTest(
  "two share peers on two hosts, given no address, move a file",
  { count: 2 },
  async (hosts, dir, started) => {
    const bytes = randomBytes(300_000);
    await Deno.writeFile(`${dir}/offered.bin`, bytes);
    const share = (i: number, args: string[]) => {
      const process = new MeshProcess(
        "apps/cli/share.ts",
        ["--port", "0", "--json", "--data-dir", `${dir}/h${i}`, ...args],
        { namespace: hosts.namespace(i), discovery: true },
      );
      started.push(process);
      return process;
    };
    share(0, ["--part", `${dir}/offered.bin`, "--seed-only"]);
    const fetcher = share(1, ["--out", `${dir}/out`, "--exit-when-done"]);
    const saved = await fetcher.waitFor((e) => e.event === "saved", "the file", 30_000);
    assert.equal(saved.name, "offered.bin");
    assert.deepEqual(await Deno.readFile(`${dir}/out/offered.bin`), bytes);
    assert.equal(await fetcher.exited(), 0);
  },
);

lanTest(
  "two rooms on one bridge stay apart: each chats within itself, no connection across",
  { count: 4 },
  async (hosts, dir, started) => {
    const rooms = ["red", "blue"];
    const peers = await Promise.all(
      [0, 1, 2, 3].map((i) => chat(hosts, i, dir, ["--room", rooms[i % 2]])),
    );
    started.push(...peers.map((peer) => peer.process));
    const [red, blue] = [[peers[0], peers[2]], [peers[1], peers[3]]];
    await Promise.all([meshed(red, 10_000), meshed(blue, 10_000)]);
    await red[0].process.type("red says hi");
    await blue[0].process.type("blue says hi");
    await red[1].process.waitFor(isMessage("red says hi"), "the red line");
    await blue[1].process.waitFor(isMessage("blue says hi"), "the blue line");
    for (const [room, others] of [[red, blue], [blue, red]]) {
      const otherIds = others.map((peer) => peer.id);
      for (const peer of room) {
        const events = peer.process.events;
        assert.deepEqual(
          events.filter((e) => e.event === "peer-connected").map((e) => e.id),
          room.filter((other) => other !== peer).map((other) => other.id),
          "connected to its room only",
        );
        const authors = events.filter((e) => e.event === "message")
          .map((e) => (e.from as { id: string }).id);
        assert.ok(!authors.some((id) => otherIds.includes(id)), "no line from the other room");
      }
    }
  },
);

lanTest(
  "--no-discovery stays alone; --peer and the bootstrap address work with discovery on or off",
  { count: 5 },
  async (hosts, dir, started) => {
    const [a, b, alone] = await Promise.all([
      chat(hosts, 0, dir),
      chat(hosts, 1, dir),
      chat(hosts, 2, dir, ["--no-discovery"]),
    ]);
    started.push(a.process, b.process, alone.process);
    const [bootstrapped, elsewhere] = await Promise.all([
      chat(hosts, 3, dir, [hosts.address(0), String(a.port), "--no-discovery"]),
      chat(hosts, 4, dir, ["--room", "elsewhere", "--peer", `${hosts.address(1)}:${b.port}`]),
    ]);
    started.push(bootstrapped.process, elsewhere.process);
    await meshed([a, b], 10_000);
    await bootstrapped.process.waitFor(connectedTo(a.id), "the bootstrap address to be joined");
    await elsewhere.process.waitFor(connectedTo(b.id), "the --peer to be joined");
    await a.process.type("who is there?");
    for (const peer of [b, bootstrapped, elsewhere]) {
      await peer.process.waitFor(isMessage("who is there?"), "the line");
    }
    assert.equal(alone.process.events.filter((e) => e.event === "peer-connected").length, 0);
    assert.equal(alone.process.events.filter((e) => e.event === "message").length, 0);
  },
);

lanTest(
  "10,000 forged announcements from a fourth host: the chat goes on, and dials stay few",
  { count: 4 },
  async (hosts, dir, started) => {
    const room = ["--room", "flooded"];
    const peers = await Promise.all([0, 1, 2].map((i) => chat(hosts, i, dir, room)));
    started.push(...peers.map((peer) => peer.process));
    await meshed(peers, 10_000);
    // The forger sends from 32 addresses of its own: a dial of what it announces reaches its
    // host, whose kernel answers each with a reset, which its counters count.
    const forger = 3;
    const from = await hosts.addAddresses(forger, 32);
    const resetsBefore = await tcpResets(hosts, forger);
    const startedAt = performance.now();
    const flood = hosts.command(forger, Deno.execPath(), [
      ...["run", "-A", `${root}packages/core/_forged_announcements.ts`],
      ...["flooded", "chat", "10000", ...from],
    ], { stdout: "piped", stderr: "piped" }).output();
    await peers[0].process.type("during the flood");
    const output = await flood;
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const { sent, valid } = JSON.parse(new TextDecoder().decode(output.stdout));
    assert.deepEqual([sent, valid], [10_000, 3334]);
    await peers[1].process.type("after the flood");
    for (const [i, peer] of peers.entries()) {
      if (i !== 0) await peer.process.waitFor(isMessage("during the flood"), "the first line");
      if (i !== 1) await peer.process.waitFor(isMessage("after the flood"), "the second line");
    }
    await new Promise((resolve) => setTimeout(resolve, 1000)); // dials the flood still causes
    const dials = (await tcpResets(hosts, forger)) - resetsBefore;
    const seconds = (performance.now() - startedAt) / 1000;
    const bound = peers.length * (HINT_DIAL_BURST + HINT_DIALS_PER_SECOND * seconds);
    // Below their target, the peers do try what they hear: the count sees their dials.
    assert.ok(dials > 0, "some forged addresses dialed");
    assert.ok(dials <= bound, `${dials} dials in ${seconds.toFixed(1)} s; at most ${bound}`);
    for (const peer of peers) {
      assert.equal(
        peer.process.events.filter((e) => e.event === "peer-disconnected").length,
        0,
        "no link lost",
      );
      const forged = peer.process.stderr.filter((line) => from.some((a) => line.includes(a)));
      assert.deepEqual(forged, [], "a forged address failing is no news");
    }
  },
);

lanTest(
  "on a host with loopback only, peers find each other through it",
  { count: 1, wired: false },
  async (hosts, dir, started) => {
    const peers: Chat[] = [];
    for (const nick of ["x", "y", "z"]) {
      const peer = await chat(hosts, 0, `${dir}/${nick}`);
      started.push(peer.process);
      peers.push(peer);
    }
    await meshed(peers, 10_000);
    await peers[0].process.type("over loopback");
    await peers[1].process.waitFor(isMessage("over loopback"), "the line at y");
    await peers[2].process.waitFor(isMessage("over loopback"), "the line at z");
    assert.ok(
      peers[0].process.stderr.some((line) => line.includes("LAN discovery on 127.0.0.1")),
    );
  },
);

/** The TCP resets host `i` has sent: one for each connection attempt to a port nothing listens on. */
async function tcpResets(hosts: Hosts, i: number): Promise<number> {
  const output = await hosts.command(i, "cat", ["/proc/net/snmp"], { stdout: "piped" }).output();
  const [names, values] = new TextDecoder().decode(output.stdout).split("\n")
    .filter((line) => line.startsWith("Tcp:"))
    .map((line) => line.split(/\s+/));
  return Number(values[names.indexOf("OutRsts")]);
}
