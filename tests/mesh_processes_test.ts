// Peers as separate `deno run` processes on loopback, driven through the real chat CLI.
import assert from "node:assert/strict";
import { randomBytes } from "@meshtalk/core/testing";
import { type Event, MeshProcess } from "./_process.ts";

const isMessage = (text: string) => (e: Event) => e.event === "message" && e.text === text;

async function startChat(
  dir: string,
  name: string,
  join?: number,
): Promise<[MeshProcess, number, string]> {
  const args = ["0", "--json", "--nick", name, "--data-dir", `${dir}/${name}`];
  if (join !== undefined) args.push("127.0.0.1", String(join));
  const process = new MeshProcess("apps/cli/chat.ts", args);
  const ready = await process.waitFor((e) => e.event === "ready", `${name} ready`);
  return [process, ready.port as number, ready.id as string];
}

Deno.test("three peer processes find each other and a line typed at one reaches the others once", async () => {
  const dir = await Deno.makeTempDir();
  const [a, aPort, aId] = await startChat(dir, "alice");
  const [b, bPort, bId] = await startChat(dir, "bob", aPort);
  const [c, , cId] = await startChat(dir, "carol", bPort);
  try {
    // carol joined through bob only; peer exchange tells her where alice is.
    await c.waitFor((e) => e.event === "peer-connected" && e.id === aId, "carol to find alice");
    await a.waitFor((e) => e.event === "peer-connected" && e.id === cId, "alice to see carol");
    await c.type("hello from carol");
    for (const process of [a, b]) {
      const got = await process.waitFor(isMessage("hello from carol"), "the message");
      assert.deepEqual(got.from, { id: cId, nick: "carol" });
    }
    await b.type("and from bob");
    await a.waitFor(isMessage("and from bob"), "bob's message at alice");
    await c.waitFor(isMessage("and from bob"), "bob's message at carol");
    await new Promise((r) => setTimeout(r, 300)); // time for any duplicate to arrive
    for (const process of [a, b]) {
      assert.equal(process.events.filter(isMessage("hello from carol")).length, 1, "exactly once");
    }
    assert.equal(
      c.events.filter(isMessage("hello from carol")).length,
      0,
      "not echoed to its sender",
    );
    assert.ok(b.events.some((e) => e.event === "peer-connected" && e.id === aId));
    assert.notEqual(bId, aId);
  } finally {
    const codes = await Promise.all([a.end(), b.end(), c.end()]);
    await Deno.remove(dir, { recursive: true });
    assert.deepEqual(codes, [0, 0, 0], "EOF on stdin is a clean exit");
  }
});

Deno.test("a peer fed 1 MiB of random bytes logs a clear error and keeps serving the others", async () => {
  const dir = await Deno.makeTempDir();
  const [a, aPort] = await startChat(dir, "alice");
  const [b] = await startChat(dir, "bob", aPort);
  try {
    await b.waitFor((e) => e.event === "peer-connected", "bob joins alice");
    const garbage = await Deno.connect({ hostname: "127.0.0.1", port: aPort });
    await garbage.write(randomBytes(1 << 20)).catch(() => {}); // the peer may hang up before taking it all
    const seen = new Uint8Array(4096);
    while ((await garbage.read(seen).catch(() => null)) !== null) { /* until the peer closes it */ }
    garbage.close();
    await a.waitForStderr(
      /connection 127\.0\.0\.1:\d+ closed: .*(exceeds the limit|MessagePack|expected)/,
      10_000,
    );
    await b.type("still talking");
    await a.waitFor(isMessage("still talking"), "bob's message after the garbage");
  } finally {
    await Promise.all([a.end(), b.end()]);
    await Deno.remove(dir, { recursive: true });
  }
});
