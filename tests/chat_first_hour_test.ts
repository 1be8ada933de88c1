// What a new user of `chat` meets in the first hour, through the real command: two peers on
// port 0, a pinned /connect to the wrong peer, a new nickname, history after a restart, a peer
// that says goodbye, a direct message's echo.
import assert from "node:assert/strict";
import { type Event, MeshProcess } from "./_process.ts";

const LONG = 20_000;
const is = (event: string, fields: Record<string, unknown> = {}) => (e: Event) =>
  e.event === event && Object.entries(fields).every(([key, value]) => e[key] === value);
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Chat processes sharing a temp dir as their MESHTALK_HOME, all stopped and removed at the end. */
async function withChats(body: (start: Start, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "meshtalk-first-hour-" });
  const processes: MeshProcess[] = [];
  const start: Start = async (args, json = true) => {
    const process = new MeshProcess("apps/cli/chat.ts", [...args, ...(json ? ["--json"] : [])], {
      env: { MESHTALK_HOME: dir },
    });
    processes.push(process);
    if (json) {
      const ready = await process.waitFor(is("ready"), `chat ${args.join(" ")}`, LONG);
      return { process, id: ready.id as string, port: ready.port as number };
    }
    const banner = await process.waitForStdout(/^meshtalk chat on port \d+ as /, LONG);
    const [, port, id] = /on port (\d+) as .* \(([0-9a-f]{8})\)/.exec(banner)!;
    return { process, id, port: Number(port) };
  };
  try {
    await body(start, dir);
  } finally {
    await Promise.all(processes.map((p) => p.kill("SIGTERM")));
    await Deno.remove(dir, { recursive: true });
  }
}

type Start = (
  args: string[],
  json?: boolean,
) => Promise<{ process: MeshProcess; id: string; port: number }>;

Deno.test("two peers on port 0 get identities of their own and can connect", async () => {
  await withChats(async (start, dir) => {
    const a = await start(["0"]);
    const b = await start(["0"]);
    assert.notEqual(a.id, b.id);
    await b.process.type(`/connect 127.0.0.1 ${a.port}`);
    await a.process.waitFor(is("peer-connected", { id: b.id }), "b to join a", LONG);
    const dirs = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.deepEqual(dirs, [`peer-${a.port}`, `peer-${b.port}`].sort(), "a data dir each, by port");
    // Dialing oneself says so.
    await a.process.type(`/connect 127.0.0.1 ${a.port}`);
    await a.process.waitForStderr(/refusing to connect to ourselves/, LONG);
  });
});

Deno.test("/connect to the wrong id is refused once, and nothing connects behind the user's back", async () => {
  await withChats(async (start) => {
    const a = await start(["0", "--connections", "4"]);
    const b = await start(["0", "--connections", "4"]);
    const wrong = "f".repeat(32);
    await b.process.type(`/connect 127.0.0.1 ${a.port} ${wrong}`);
    await b.process.waitForStderr(
      /: expected peer f{32} but the peer there proved to be [0-9a-f]{32}$/,
      LONG,
    );
    await delay(3000); // a few rounds of both sides' upkeep
    assert.equal(b.process.events.filter(is("peer-connected")).length, 0, "b never joined a");
    assert.equal(a.process.events.filter(is("peer-connected")).length, 0, "a never joined b");
    const refusals = b.process.stderr.filter((line) => line.includes("proved to be"));
    assert.equal(refusals.length, 1, `said once:\n${b.process.stderr.join("\n")}`);
    await b.process.type("/peers");
    const peers = await b.process.waitFor(is("peers"), "b's /peers", LONG);
    assert.deepEqual(peers.peers, []);
  });
});

Deno.test("/nick is told to every peer at once and kept for the next start", async () => {
  await withChats(async (start) => {
    const a = await start(["0", "--nick", "bob"]);
    const b = await start(["0", "--nick", "carol", "127.0.0.1", String(a.port)], false);
    await a.process.waitFor(is("peer-connected", { nick: "carol" }), "carol", LONG);
    await a.process.type("/nick ada");
    await b.process.waitForStdout(/^\* bob is now ada$/, LONG);
    // carol finds ada by her new name, though ada said nothing since.
    await b.process.type("/msg ada hello ada");
    const direct = await a.process.waitFor(
      is("direct", { text: "hello ada" }),
      "the message",
      LONG,
    );
    assert.equal((direct.from as { nick: string }).nick, "carol");
    // carol's own echo says to whom it went.
    await b.process.waitForStdout(/^\d\d:\d\d:\d\d \[to ada\] hello ada$/, LONG);
    // And /peers shows the new name.
    await b.process.type("/peers");
    await b.process.waitForStdout(/^[0-9a-f]{8} {2}ada {14}/, LONG);
    // Kept: a restart with no --nick goes on as ada.
    const port = a.port;
    await a.process.kill("SIGTERM");
    const again = await start([String(port)]);
    const ready = again.process.events.find(is("ready"))!;
    assert.equal(ready.nick, "ada");
  });
});

Deno.test("after a restart your own earlier lines are in your history; a clean goodbye is no error", async () => {
  await withChats(async (start) => {
    const a = await start(["0", "--nick", "ada"]);
    const b = await start(["0", "--nick", "bo", "--connections", "4", "127.0.0.1", String(a.port)]);
    await a.process.waitFor(is("peer-connected", { nick: "bo" }), "bo", LONG);
    await a.process.type("before the restart");
    await b.process.waitFor(is("message", { text: "before the restart" }), "the line", LONG);
    const port = a.port;
    await a.process.type("/quit");
    assert.equal(await a.process.exited(), 0);
    await b.process.waitFor(is("peer-disconnected", { id: a.id }), "a to leave", LONG);
    await delay(2500); // upkeep rounds at b: a peer that said goodbye is not an error to retry loudly
    assert.equal(
      b.process.stderr.filter((line) => /cannot reach|will retry/.test(line)).length,
      0,
      b.process.stderr.join("\n"),
    );
    const again = await start([String(port), "--nick", "ada", "--connections", "4"]);
    await again.process.waitFor(is("peer-connected", { nick: "bo" }), "ada back with bo", LONG);
    await again.process.waitFor(
      is("message", { text: "before the restart", late: true }),
      "her own line, late",
      LONG,
    );
    await again.process.type("/history");
    await again.process.waitForStderr(/ ada \([0-9a-f]{8}\): before the restart$/, LONG);
  });
});

Deno.test("an HTTP server given as a peer is named as no meshtalk peer, once, in chat and share", async () => {
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("hello from a web server"),
  );
  const address = `127.0.0.1:${http.addr.port}`;
  const said = `${address} is not a meshtalk peer (it spoke HTTP)`;
  const dir = await Deno.makeTempDir({ prefix: "meshtalk-not-meshtalk-" });
  try {
    const chat = new MeshProcess(
      "apps/cli/chat.ts",
      ["0", "127.0.0.1", String(http.addr.port), "--json", "--no-input"],
      { env: { MESHTALK_HOME: dir } },
    );
    const share = new MeshProcess(
      "apps/cli/share.ts",
      ["--port", "0", "--peer", address, "--json", "--seed-only"],
      { env: { MESHTALK_HOME: dir } },
    );
    for (const process of [chat, share]) {
      await process.waitFor(
        (e) => e.event === "error" && e.message === said,
        "the error event",
        LONG,
      );
      await process.waitForStderr(new RegExp(said.replace(/[.()]/g, "\\$&")), LONG);
    }
    // Redials with backoff would repeat it: a few seconds more, and still said once each.
    await delay(3000);
    assert.equal(await chat.kill("SIGTERM"), 143);
    const code = await share.exited(); // no peer reachable: share gives up after 10 s
    assert.equal(code, 1);
    for (const process of [chat, share]) {
      assert.equal(
        process.events.filter((e) => e.message === said).length,
        1,
        process.stderr.join("\n"),
      );
      const lines = process.stderr.filter((line) => line.includes("is not a meshtalk peer"));
      assert.equal(lines.length, 1, process.stderr.join("\n"));
      assert.doesNotMatch(process.stderr.join("\n"), /frame of \d+ bytes/);
    }
    assert.match(share.stderr.join("\n"), /share: no peers reachable \(tried 127\.0\.0\.1:\d+\)/);
  } finally {
    await http.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
