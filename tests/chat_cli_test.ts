// The chat CLI end to end: its /commands, a peer killed mid-mesh, bad command lines, retries of an
// unreachable bootstrap peer, and the interactive prompt in a real terminal (tmux).
import assert from "node:assert/strict";
import { type Event, MeshProcess, runToEnd } from "./_process.ts";
import { onPath, Terminal } from "./_terminal.ts";

/** Matches events named `event` whose fields equal `fields`. */
const is = (event: string, fields: Record<string, unknown> = {}) => (e: Event) =>
  e.event === event && Object.entries(fields).every(([key, value]) => e[key] === value);
const isMessage = (text: string) => is("message", { text });
/** A `message` or `direct` event carrying `text`. */
const carries = (text: string) => (e: Event) =>
  (e.event === "message" || e.event === "direct") && e.text === text;

/** Narrows a matcher to the events `process` collects from now on. */
function fresh(process: MeshProcess): (match: (e: Event) => boolean) => (e: Event) => boolean {
  const old = new Set(process.events);
  return (match) => (e) => !old.has(e) && match(e);
}

const count = (process: MeshProcess, match: (e: Event) => boolean) =>
  process.events.filter(match).length;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ChatPeer {
  process: MeshProcess;
  nick: string;
  port: number;
  id: string;
}

/** Chat processes sharing a temp dir (one data dir each), all ended by `close`. */
class Mesh {
  readonly dir: string;
  readonly processes: MeshProcess[] = [];

  private constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Runs `body` with a new mesh, then ends its processes and removes its dir (also when `body`
   * throws); resolves with their exit codes (see {@linkcode Mesh.close}).
   */
  static async run(body: (mesh: Mesh) => Promise<void>): Promise<number[]> {
    const mesh = new Mesh(await Deno.makeTempDir({ prefix: "meshtalk-chat-cli-" }));
    let codes: number[];
    try {
      await body(mesh);
    } finally {
      codes = await mesh.close();
    }
    return codes;
  }

  /** Starts `chat.ts 0 --json --nick <nick> --data-dir <dir>/<nick> ...args`, until `ready`. */
  async start(nick: string, args: string[] = [], port = 0): Promise<ChatPeer> {
    const process = new MeshProcess("apps/cli/chat.ts", [
      String(port),
      "--json",
      "--nick",
      nick,
      "--data-dir",
      `${this.dir}/${nick}`,
      ...args,
    ]);
    this.processes.push(process);
    const ready = await process.waitFor(is("ready"), `${nick} to be ready`);
    assert.equal(ready.nick, nick);
    return { process, nick, port: ready.port as number, id: ready.id as string };
  }

  /**
   * Ends every process (EOF on stdin) and removes the temp dir; resolves with the exit codes, -1
   * for a process that was still running 10 s after EOF and was killed.
   */
  async close(): Promise<number[]> {
    try {
      return await Promise.all(this.processes.map((process) => stop(process)));
    } finally {
      await Deno.remove(this.dir, { recursive: true });
    }
  }
}

async function stop(process: MeshProcess): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 10_000));
  try {
    const code = await Promise.race([process.end(), late]);
    if (code !== null) return code;
    await process.kill("SIGKILL");
    return -1;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `a` and `b` each report the other as connected (events after `since`, if given). */
async function connected(
  a: ChatPeer,
  b: ChatPeer,
  timeoutMs = 15_000,
  since?: { a: ReturnType<typeof fresh>; b: ReturnType<typeof fresh> },
): Promise<[Event, Event]> {
  const aMatch = is("peer-connected", { id: b.id });
  const bMatch = is("peer-connected", { id: a.id });
  return await Promise.all([
    a.process.waitFor(since ? since.a(aMatch) : aMatch, `${a.nick} to see ${b.nick}`, timeoutMs),
    b.process.waitFor(since ? since.b(bMatch) : bMatch, `${b.nick} to see ${a.nick}`, timeoutMs),
  ]);
}

Deno.test("chat commands end to end: /connect, /peers, /nick, /msg, /disconnect", async () => {
  const codes = await Mesh.run(async (mesh) => {
    // --connections 0: only the connections asked for exist, a line B - A - C.
    const a = await mesh.start("alice", ["--connections", "0"]);
    const b = await mesh.start("bob", ["--connections", "0", "127.0.0.1", String(a.port)]);
    const c = await mesh.start("carol", ["--connections", "0"]);
    await connected(a, b);

    // /connect
    await c.process.type(`/connect 127.0.0.1 ${a.port}`);
    const [aSeesC, cSeesA] = await connected(a, c);
    assert.equal(aSeesC.nick, "carol");
    assert.equal(aSeesC.address, `127.0.0.1:${c.port}`);
    assert.equal(cSeesA.nick, "alice");
    assert.equal(cSeesA.address, `127.0.0.1:${a.port}`);

    // /peers
    await a.process.type("/peers");
    const listed = await a.process.waitFor(is("peers"), "alice's /peers");
    const peers = listed.peers as { id: string; nick: string; address: string; rttMs: unknown }[];
    for (const { rttMs } of peers) assert.ok(rttMs === null || typeof rttMs === "number");
    const byId = (x: { id: string }, y: { id: string }) => x.id < y.id ? -1 : 1;
    assert.deepEqual(
      peers.map(({ id, nick, address }) => ({ id, nick, address })).sort(byId),
      [
        { id: b.id, nick: "bob", address: `127.0.0.1:${b.port}` },
        { id: c.id, nick: "carol", address: `127.0.0.1:${c.port}` },
      ].sort(byId),
    );

    // /nick: the next line from bob carries the new name, at alice and (relayed) at carol.
    await b.process.type("/nick bobby");
    await b.process.type("bob is now bobby");
    for (const [peer, hops] of [[a, 0], [c, 1]] as const) {
      const renamed = await peer.process.waitFor(
        isMessage("bob is now bobby"),
        `bob's renamed line at ${peer.nick}`,
      );
      assert.deepEqual(renamed.from, { id: b.id, nick: "bobby" });
      assert.equal(renamed.hops, hops);
    }

    // /msg by nickname: only carol sees it, as a direct message.
    await a.process.type("/msg carol for carol only");
    const direct = await c.process.waitFor(is("direct", { text: "for carol only" }), "the /msg");
    assert.deepEqual(direct.from, { id: a.id, nick: "alice" });
    await a.process.type("for everyone");
    // The same connection carried the /msg to bob before this line, if at all.
    await b.process.waitFor(isMessage("for everyone"), "alice's next line at bob");
    await c.process.waitFor(isMessage("for everyone"), "alice's next line at carol");
    assert.equal(count(b.process, carries("for carol only")), 0, "a /msg reaches nobody else");
    assert.equal(count(c.process, carries("for carol only")), 1, "a /msg is shown once");

    // /disconnect by port: both sides report it.
    await a.process.type(`/disconnect ${c.port}`);
    const [aLost, cLost] = await Promise.all([
      a.process.waitFor(is("peer-disconnected", { id: c.id }), "alice to drop carol"),
      c.process.waitFor(is("peer-disconnected", { id: a.id }), "carol to be dropped by alice"),
    ]);
    assert.equal(aLost.nick, "carol");
    assert.equal(cLost.nick, "alice");
    assert.match(String(aLost.reason), /disconnected by user/);
    assert.match(String(cLost.reason), /disconnected by user/);

    // /connect again joins them again.
    const since = { a: fresh(a.process), b: fresh(c.process) };
    await c.process.type(`/connect 127.0.0.1 ${a.port}`);
    await connected(a, c, 15_000, since);
    await c.process.type("carol is back");
    await a.process.waitFor(isMessage("carol is back"), "carol's line at alice");
    await b.process.waitFor(isMessage("carol is back"), "carol's line at bob");

    // With --connections 0, bob never dialed carol although alice told both where the other is.
    await b.process.type("/peers");
    const bobs = await b.process.waitFor(is("peers"), "bob's /peers");
    assert.deepEqual((bobs.peers as { id: string }[]).map(({ id }) => id), [a.id]);
  });
  assert.deepEqual(codes, [0, 0, 0], "EOF on stdin is a clean exit");
});

Deno.test("a neighbour dropped with /disconnect is not redialed by upkeep; /connect rejoins", async () => {
  const codes = await Mesh.run(async (mesh) => {
    const p = await mesh.start("pam", ["--connections", "4"]);
    const q = await mesh.start("quinn", ["--connections", "4", "127.0.0.1", String(p.port)]);
    await connected(p, q);

    await p.process.type(`/disconnect ${q.port}`);
    await Promise.all([
      p.process.waitFor(is("peer-disconnected", { id: q.id }), "pam to drop quinn"),
      q.process.waitFor(is("peer-disconnected", { id: p.id }), "quinn to be dropped"),
    ]);
    const since = { a: fresh(p.process), b: fresh(q.process) };
    // Upkeep runs every second, and each knows where the other listens: give it a few rounds.
    await delay(5000);
    assert.equal(count(p.process, since.a(is("peer-connected"))), 0, "pam redialed quinn");
    assert.equal(count(q.process, since.b(is("peer-connected"))), 0, "quinn redialed pam");

    await p.process.type(`/connect 127.0.0.1 ${q.port}`);
    await connected(p, q, 15_000, since);
    await q.process.type("together again");
    await p.process.waitFor(isMessage("together again"), "quinn's line at pam");
  });
  assert.deepEqual(codes, [0, 0]);
});

Deno.test("SIGKILL of the middle peer: the two others notice and keep talking, once each", async () => {
  const codes = await Mesh.run(async (mesh) => {
    const a = await mesh.start("alice");
    const b = await mesh.start("bob", ["127.0.0.1", String(a.port)]);
    const c = await mesh.start("carol", ["127.0.0.1", String(b.port)]);
    // carol hears of alice from bob (peer exchange) and dials her too.
    await connected(a, c);

    await b.process.kill("SIGKILL");
    // A dead socket or, failing that, the heartbeat timeout (10 s) tells them.
    await Promise.all([
      a.process.waitFor(is("peer-disconnected", { id: b.id }), "alice to lose bob", 30_000),
      c.process.waitFor(is("peer-disconnected", { id: b.id }), "carol to lose bob", 30_000),
    ]);

    await c.process.type("carol, after bob");
    await a.process.waitFor(isMessage("carol, after bob"), "carol's line at alice");
    await a.process.type("alice, after bob");
    await c.process.waitFor(isMessage("alice, after bob"), "alice's line at carol");
    // One more round trip: a duplicate would have come before these.
    await c.process.type("carol again");
    await a.process.type("alice again");
    await a.process.waitFor(isMessage("carol again"), "carol's second line at alice");
    await c.process.waitFor(isMessage("alice again"), "alice's second line at carol");
    assert.equal(count(a.process, carries("carol, after bob")), 1);
    assert.equal(count(c.process, carries("alice, after bob")), 1);
    const fromCarol = a.process.events.find(isMessage("carol, after bob"))!;
    assert.deepEqual(fromCarol.from, { id: c.id, nick: "carol" });
  });
  assert.equal(codes[0], 0);
  assert.notEqual(codes[1], 0, "bob was killed");
  assert.equal(codes[2], 0);
});

Deno.test("a script's lines all go out before its /quit, written together and shown one by one", async () => {
  const codes = await Mesh.run(async (mesh) => {
    const listener = await mesh.start("listener");
    const writer = await mesh.start("writer", ["--peer", `127.0.0.1:${listener.port}`]);
    await connected(listener, writer);
    const lines = Array.from({ length: 300 }, (_, i) => `scripted line ${i}`);
    // One write: the lines reach the writer together and travel in a few signed says.
    await writer.process.type([...lines, "/quit"].join("\n"));
    assert.equal(await writer.process.exited(), 0);
    await listener.process.waitFor(isMessage(lines.at(-1)!), "the last line at the listener");
    const shown = listener.process.events.filter((e) => e.event === "message").map((e) => e.text);
    assert.deepEqual(shown, lines, "every line, once, in order");
  });
  assert.equal(codes[0], 0);
});

/** Runs the chat command to completion with stdin closed. */
function runChat(args: string[]) {
  return runToEnd("apps/cli/chat.ts", args);
}

Deno.test("bad arguments: exit code 2, what is wrong and how to call it on stderr, no stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meshtalk-chat-cli-" });
  try {
    const cases: [string[], RegExp][] = [
      [["70000"], /port must be a number from 0 to 65535, got "70000"/],
      [["abc"], /port must be a number from 0 to 65535, got "abc"/],
      [["0", "--connections", "x"], /--connections must be a number from 0 to 1000/],
      [["0", "--lines-per-say", "65"], /--lines-per-say must be a number from 1 to 64/],
      [["0", "127.0.0.1", "9", "--expect-peer", "abc"], /--expect-peer needs a full peer id/],
      [["0", "--expect-peer", "a".repeat(32)], /--expect-peer needs a peer to join through/],
      [[], /missing required argument 'port'/],
    ];
    const results = await Promise.all(
      cases.map(([args]) => runChat([...args, "--data-dir", `${dir}/data`])),
    );
    for (const [i, { code, stdout, stderr }] of results.entries()) {
      const [args, expected] = cases[i];
      const what = `chat ${args.join(" ")}`;
      assert.equal(code, 2, `${what} must fail with the usage exit code`);
      assert.equal(stdout, "", `${what}: nothing on stdout`);
      const lines = stderr.split("\n").filter((line) => line !== "");
      assert.equal(
        lines.length,
        2,
        `${what}: the error and a usage line on stderr, got:\n${stderr}`,
      );
      assert.match(lines[0], expected);
      assert.equal(
        lines[1],
        "usage: chat [options] <port> [peer-host] [peer-port]  (--help for more)",
      );
      assert.doesNotMatch(stderr, /^\s+at |Uncaught|\.ts:\d+/m, `${what}: no stack trace`);
    }
    // Nothing was started, so nothing was written.
    assert.equal(await Deno.stat(`${dir}/data`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreachable bootstrap peer: an error line, then a connection once it is up", async () => {
  // A port nobody listens on, for now.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const codes = await Mesh.run(async (mesh) => {
    const a = await mesh.start("alice", ["127.0.0.1", String(port)]);
    const error = await a.process.waitFor(is("error"), "an error about the bootstrap peer");
    assert.match(String(error.message), new RegExp(`cannot reach 127\\.0\\.0\\.1:${port}\\b`));
    await a.process.waitForStderr(new RegExp(`^chat: cannot reach 127\\.0\\.0\\.1:${port}\\b`));
    assert.doesNotMatch(a.process.stderr.join("\n"), /^\s+at |Uncaught/m, "no stack trace");
    // Let a retry or two fail too, then bring the peer up.
    await delay(2000);
    const b = await mesh.start("bob", [], port);
    assert.equal(b.port, port);
    await connected(a, b, 40_000);
    await a.process.type("you made it");
    await b.process.waitFor(isMessage("you made it"), "alice's line at bob");
  });
  assert.deepEqual(codes, [0, 0], "the failed dial did not make alice exit");
});

Deno.test("--expect-peer: the pinned id joins; any other peer at that address is refused", async () => {
  const codes = await Mesh.run(async (mesh) => {
    const bob = await mesh.start("bob");
    const carol = await mesh.start("carol");
    // Alice pins carol's id but dials bob's address: bob proves to be bob, and is refused.
    const alice = await mesh.start("alice", [
      "127.0.0.1",
      String(bob.port),
      "--expect-peer",
      carol.id,
    ]);
    await alice.process.waitForStderr(
      new RegExp(`^chat: refused 127\\.0\\.0\\.1:${bob.port}: .*expected peer ${carol.id}`),
    );
    const dave = await mesh.start("dave", ["127.0.0.1", String(bob.port), "--expect-peer", bob.id]);
    await connected(dave, bob);
    await dave.process.type("pinned");
    await bob.process.waitFor(isMessage("pinned"), "dave's line at bob");
    assert.equal(count(alice.process, is("peer-connected")), 0, "alice joined no one");
  });
  assert.deepEqual(codes, [0, 0, 0, 0]);
});

Deno.test({
  name: "/msg reaches a neighbour by the nickname it took with /nick",
  // Regression: the nickname from a neighbour's hello used to override the newer one seen on its
  // messages, so "/msg bobby" failed with 'no known peer is called "bobby"'.
  async fn() {
    await Mesh.run(async (mesh) => {
      const a = await mesh.start("alice");
      const b = await mesh.start("bob", ["127.0.0.1", String(a.port)]);
      await connected(a, b);
      await b.process.type("/nick bobby");
      await b.process.type("call me bobby");
      await a.process.waitFor(isMessage("call me bobby"), "bob's line as bobby");
      await a.process.type("/msg bobby hello bobby");
      await a.process.type("/peers"); // done once the /msg is
      await a.process.waitFor(is("peers"), "alice's /peers");
      assert.deepEqual(a.process.events.filter(is("error")), [], "the /msg was refused");
      await b.process.waitFor(is("direct", { text: "hello bobby" }), "the /msg at bobby");
    });
  },
});

const hasTmux = onPath("tmux");
if (!hasTmux) {
  console.log("chat_cli_test.ts: skipped: tmux not installed (the interactive prompt test)");
}

/** What a test gets from {@linkcode withTmuxPeer}. */
interface TmuxPeer {
  /** Peer xx, a --json process. */
  x: ChatPeer;
  /** The id of peer yy, running in the terminal. */
  yId: string;
  /** Types into the terminal: literal text, or key names with `keys: true`. */
  send(text: string, keys?: boolean): Promise<void>;
  /** The pane's lines, trailing blanks trimmed. */
  screen(): Promise<string[]>;
  /** Polls the pane until `ok` holds for its lines; resolves with them. */
  waitForScreen(ok: (lines: string[]) => boolean, what: string): Promise<string[]>;
  /** Makes the terminal `columns` wide. */
  resize(columns: number): Promise<void>;
}

const bind = (terminal: Terminal) => ({
  send: (text: string, keys?: boolean) => terminal.send(text, keys),
  screen: () => terminal.screen(),
  waitForScreen: (ok: (lines: string[]) => boolean, what: string) =>
    terminal.waitForScreen(ok, what),
  resize: (columns: number) => terminal.resize(columns),
});

const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1) ?? "";

/**
 * Runs peer xx (--json, piped) and peer yy in a tmux terminal, joined to xx, then `body`; yy's
 * exit status is shown in the pane as "[chat exited: <code>]".
 */
async function withTmuxPeer(body: (terminal: TmuxPeer) => Promise<void>): Promise<void> {
  const codes = await Mesh.run(async (mesh) => {
    let terminal: Terminal | null = null;
    try {
      const x = await mesh.start("xx");
      const args = [
        "0",
        "127.0.0.1",
        String(x.port),
        "--nick",
        "yy",
        "--data-dir",
        `${mesh.dir}/yy`,
      ];
      terminal = await Terminal.run(mesh.dir, "apps/cli/chat.ts", args);
      const { waitForScreen } = bind(terminal);
      const joined = await x.process.waitFor(is("peer-connected", { nick: "yy" }), "yy to join");
      await waitForScreen(
        (lines) =>
          lines.some((l) => /^meshtalk chat on port \d+ as yy /.test(l)) &&
          lastLine(lines) === ">",
        "the banner and the prompt",
      );
      await body({ x, yId: joined.id as string, ...bind(terminal) });
    } finally {
      await terminal?.close();
    }
  });
  assert.deepEqual(codes, [0]);
}

Deno.test({
  name: "the interactive prompt keeps a half-typed line when a message arrives (tmux)",
  ignore: !hasTmux,
  async fn() {
    await withTmuxPeer(async ({ x, yId, send, waitForScreen }) => {
      await send("hel");
      await waitForScreen((lines) => lastLine(lines) === "> hel", "the typed letters");
      await x.process.type("incoming!");
      const lines = await waitForScreen(
        (lines) => lines.some((l) => l.includes("incoming!")) && lastLine(lines) === "> hel",
        "the incoming line above the prompt, the half-typed line kept",
      );
      const incoming = lines.findIndex((l) => l.includes("incoming!"));
      assert.match(lines[incoming], /\bxx \([0-9a-f]{8}\): incoming!$/);
      assert.ok(incoming < lines.lastIndexOf("> hel"), "the message is above the prompt");
      assert.equal(lines.filter((l) => l.includes("incoming!")).length, 1);

      await send("lo");
      await send("Enter", true);
      const hello = await x.process.waitFor(isMessage("hello"), "yy's line at xx");
      assert.deepEqual(hello.from, { id: yId, nick: "yy" });
    });
  },
});

Deno.test({
  name: "a typed line longer than a row stays whole when messages arrive, at any width (tmux)",
  ignore: !hasTmux,
  async fn() {
    await withTmuxPeer(async ({ x, send, waitForScreen, resize }) => {
      const typed = "the quick brown fox jumps over the lazy dog, twice over: " +
        "the quick brown fox";
      /** The prompt's rows at the bottom of the pane, joined: the prompt and all that was typed. */
      const input = (lines: string[]) => {
        const rows = lines.filter((l) => l !== "");
        const start = rows.findLastIndex((l) => l.startsWith("> "));
        return start < 0 ? "" : rows.slice(start).join("");
      };
      for (const [width, message] of [[60, "first"], [40, "second"], [97, "third"]] as const) {
        await resize(width);
        if (message === "first") await send(typed);
        await x.process.type(`incoming ${message}`);
        const lines = await waitForScreen(
          (lines) =>
            lines.some((l) => l.includes(`incoming ${message}`)) && input(lines) === `> ${typed}`,
          `the ${message} message above a whole ${typed.length}-character input, ${width} columns`,
        );
        const shown = lines.findIndex((l) => l.includes(`incoming ${message}`));
        assert.ok(shown < lines.findLastIndex((l) => l.startsWith("> ")), "above the prompt");
        assert.equal(lines.filter((l) => l.includes(`incoming ${message}`)).length, 1);
      }
    });
  },
});

Deno.test({
  name: "leaving the interactive prompt says bye: Ctrl-D and /quit exit 0, Ctrl-C 130",
  // Regression: the prompt's redraw hook outlived the closed readline ("readline was closed",
  // exit 1), and after /quit the line handler redrew a closing prompt before bye was sent.
  ignore: !hasTmux,
  async fn() {
    const ways = [[["C-d"], 0], [["/quit", "Enter"], 0], [["C-c"], 130]] as const;
    for (const [keys, code] of ways) {
      await withTmuxPeer(async ({ x, yId, send, waitForScreen }) => {
        for (const key of keys) await send(key, !key.startsWith("/"));
        const end = await waitForScreen(
          (lines) => lines.some((l) => l.startsWith("[chat exited:")),
          `yy to leave on ${keys.join(" ")}`,
        );
        const left = await x.process.waitFor(is("peer-disconnected", { id: yId }), "yy's exit");
        assert.match(String(left.reason), /bye: peer shutting down/);
        assert.ok(end.includes(`[chat exited: ${code}]`), `exit ${code}:\n${end.join("\n")}`);
        assert.ok(end.includes("* bye"), `bye said:\n${end.join("\n")}`);
      });
    }
  },
});
