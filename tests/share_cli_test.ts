// `deno task share` end to end: real processes, real sockets, real files.
import assert from "node:assert/strict";
import { randomBytes } from "@meshtalk/core/testing";
import { type Event, MeshProcess, runToEnd } from "./_process.ts";
import { onPath, Terminal } from "./_terminal.ts";

const shareScript = "apps/cli/share.ts";
const LONG = 60_000;

const is = (name: string) => (event: Event) => event.event === name;

/** Share processes working in a temp dir; `run` stops them all and removes the dir. */
class ShareDir {
  readonly path: string;
  readonly #processes: MeshProcess[] = [];

  private constructor(path: string) {
    this.path = path;
  }

  /** Runs `body` with a new dir, then stops its processes (SIGTERM) and removes it. */
  static async run(body: (dir: ShareDir) => Promise<void>): Promise<void> {
    const dir = new ShareDir(await Deno.makeTempDir({ prefix: "meshtalk-share-cli-" }));
    try {
      await body(dir);
    } finally {
      for (const process of dir.#processes.reverse()) await process.kill("SIGTERM");
      await Deno.remove(dir.path, { recursive: true });
    }
  }

  /** Starts `share.ts ...args --json` in this dir. */
  share(args: string[]): MeshProcess {
    const process = new MeshProcess(shareScript, [...args, "--json"], { cwd: this.path });
    this.#processes.push(process);
    return process;
  }

  /** A seeder of `file` that sends at most `mibs` MiB/s, so that what a test watches takes time. */
  slowSeeder(dataDir: string, file: string, mibs: number, ...args: string[]): MeshProcess {
    return this.share([
      ...["--port", "0", "--data-dir", dataDir, "--part", file],
      ...["--max-upload", String(mibs), ...args],
    ]);
  }

  /** Runs `share.ts ...args` in this dir to its end, stdin closed; its exit code and output. */
  runToEnd(args: string[]): ReturnType<typeof runToEnd> {
    return runToEnd(shareScript, args, { cwd: this.path });
  }

  /** Writes `size` random bytes to the file `name` in this dir; resolves with them. */
  async writeRandom(name: string, size: number): Promise<Uint8Array> {
    const bytes = randomBytes(size);
    await Deno.writeFile(`${this.path}/${name}`, bytes);
    return bytes;
  }
}

/**
 * The arguments of a peer on any port that joins the one on `port` and saves what it fetches to
 * `out`, with `args` after.
 */
function fetcherArgs(dataDir: string, out: string, port: unknown, ...args: string[]): string[] {
  return [
    ...["--port", "0", "--data-dir", dataDir, "--out", out],
    ...["--peer", `127.0.0.1:${port}`, ...args],
  ];
}

Deno.test("the classic flow: one peer offers part2 and part3, the other saves verified copies", async () => {
  await ShareDir.run(async (dir) => {
    const part2 = await dir.writeRandom("part2.txt", 300_000);
    const part3 = await dir.writeRandom("part3.txt", 3 * 2 ** 20 + 7);
    const a = dir.share(["--port", "0", "--data-dir", "a", "--exit-when-done"]);
    const ready = await a.waitFor(is("ready"), "a ready");
    const b = dir.share([
      ...["--port", "0", "--data-dir", "b", "--part", "part2.txt", "--part", "part3.txt"],
      ...["--peer", `127.0.0.1:${ready.port}`],
    ]);
    assert.equal(await a.exited(), 0, a.stderr.join("\n"));
    const saved = a.events.filter(is("saved"));
    assert.deepEqual(saved.map((e) => e.name).sort(), ["part2.txt", "part3.txt"]);
    for (const event of saved) {
      assert.equal(event.path, `${await Deno.realPath(dir.path)}/downloads/${event.name}`);
    }
    assert.deepEqual(await Deno.readFile(`${dir.path}/downloads/part2.txt`), part2);
    assert.deepEqual(await Deno.readFile(`${dir.path}/downloads/part3.txt`), part3);
    const announced = a.events.filter(is("announce"));
    assert.deepEqual(announced.map((e) => e.name).sort(), ["part2.txt", "part3.txt"]);
    for (const event of announced) {
      assert.match(String(event.hash), /^[0-9a-f]{64}$/);
      assert.ok((event.pieces as number) > 0);
    }
    // b offered what it had and fetched nothing.
    assert.deepEqual(b.events.filter(is("saved")), []);
  });
});

Deno.test("--get fetches only the files named (by name or root hash); --seed-only fetches none", async () => {
  await ShareDir.run(async (dir) => {
    await dir.writeRandom("one.txt", 50_000);
    const two = await dir.writeRandom("two.txt", 60_000);
    const seeder = dir.share(
      ["--port", "0", "--data-dir", "s", "--part", "one.txt", "--part", "two.txt"],
    );
    const offers = [
      await seeder.waitFor((e) => e.event === "offer" && e.name === "one.txt", "one offered"),
      await seeder.waitFor((e) => e.event === "offer" && e.name === "two.txt", "two offered"),
    ];
    const { port } = await seeder.waitFor(is("ready"), "the seeder ready");
    const peerAt = (out: string, ...args: string[]) =>
      dir.share(fetcherArgs(`${out}-data`, out, port, ...args));
    const byName = peerAt("n", "--get", "two.txt", "--exit-when-done");
    const hash = String(offers[0].hash).slice(0, 12);
    const byHash = peerAt("h", "--get", hash, "--exit-when-done");
    const seedOnly = peerAt("o", "--seed-only");
    const waiting = peerAt("w", "--get", "nosuch.txt", "--exit-when-done");
    assert.equal(await byName.exited(), 0, byName.stderr.join("\n"));
    assert.equal(await byHash.exited(), 0, byHash.stderr.join("\n"));
    assert.deepEqual(byName.events.filter(is("saved")).map((e) => e.name), ["two.txt"]);
    assert.deepEqual(await Deno.readFile(`${dir.path}/n/two.txt`), two);
    assert.deepEqual([...Deno.readDirSync(`${dir.path}/n`)].map((e) => e.name), ["two.txt"]);
    assert.deepEqual(byHash.events.filter(is("saved")).map((e) => e.name), ["one.txt"]);
    await seedOnly.waitFor((e) => e.event === "announce" && e.name === "two.txt", "the announce");
    assert.deepEqual(seedOnly.events.filter(is("saved")), []);
    // A file nobody announced is waited for, and said to be, not in silence; Ctrl-C ends it.
    await waiting.waitFor((e) => e.event === "waiting" && e.get === "nosuch.txt", "waiting");
    await waiting.waitForStderr(/^\* waiting for nosuch\.txt \(not announced by any peer yet\)$/);
    assert.equal(await waiting.kill("SIGINT"), 130, "an interrupt's exit status");
    await assert.rejects(
      () => Deno.stat(`${dir.path}/o`),
      Deno.errors.NotFound,
      "--seed-only writes nothing",
    );
  });
});

Deno.test("a downloader killed with SIGKILL resumes: it fetches only what was missing", async () => {
  await ShareDir.run(async (dir) => {
    const size = 48 * 2 ** 20;
    const source = await dir.writeRandom("big.bin", size);
    // The seeder is slowed down so that the kill lands mid-transfer.
    const seeder = dir.slowSeeder("seeder", "big.bin", 12, "--seed-only");
    const { port } = await seeder.waitFor(is("ready"), "the seeder ready", LONG);
    const leecherArgs = fetcherArgs("leecher", "got", port, "--exit-when-done");
    let leecher = dir.share(leecherArgs);
    await leecher.waitFor(
      (e) => e.event === "progress" && (e.bytes as number) >= size / 4,
      "a quarter of the file",
      LONG,
    );
    await leecher.kill("SIGKILL");
    const partials = [...Deno.readDirSync(`${dir.path}/got/.meshtalk`)];
    assert.equal(partials.length, 1, "the partial file is kept");
    leecher = dir.share(leecherArgs);
    assert.equal(await leecher.exited(), 0, leecher.stderr.join("\n"));
    const saved = leecher.events.find(is("saved"))!;
    assert.deepEqual(await Deno.readFile(`${dir.path}/got/big.bin`), source);
    const resumed = saved.resumed as number;
    assert.ok(resumed >= size / 4, `resumed ${resumed} bytes`);
    // Pieces of 1 MiB, 8 in flight at most when it was killed.
    const inFlight = 8 * 2 ** 20;
    assert.ok(
      (saved.fetched as number) <= size - resumed + inFlight,
      `fetched ${saved.fetched} after the restart, ${size - resumed} were missing`,
    );
  });
});

Deno.test("bad input: a clear line on stderr and a non-zero exit", async () => {
  await ShareDir.run(async (dir) => {
    await Deno.writeTextFile(`${dir.path}/a-file`, "not a folder");
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadPort = closed.addr.port;
    closed.close();
    const cases: [string[], number, RegExp][] = [
      [["--part", "missing.txt"], 2, /^share: cannot read missing\.txt: no such file$/],
      [
        ["--part", "/dev/null"],
        2,
        /^share: cannot read \/dev\/null: not a regular file or folder$/,
      ],
      [["--out", "a-file/sub"], 2, /^share: cannot write to the output directory a-file\/sub: /],
      [
        ["--get", "../etc/passwd"],
        2,
        /--get takes a file name or a root hash: refused the file name/,
      ],
      [["--get", "/etc/passwd"], 2, /--get takes a file name or a root hash/],
      [["--port", "99999"], 2, /port must be a number from 0 to 65535/],
      [["--seed-only", "--get", "x"], 2, /--seed-only fetches nothing/],
      [
        ["--peer", `127.0.0.1:${deadPort}`],
        1,
        /^share: no peers reachable \(tried 127\.0\.0\.1:\d+\)$/,
      ],
    ];
    const results = await Promise.all(
      cases.map(([args], i) => dir.runToEnd(["--port", "0", "--data-dir", `d${i}`, ...args])),
    );
    for (const [i, { code, stderr }] of results.entries()) {
      const [args, expectedCode, expected] = cases[i];
      const what = `share ${args.join(" ")}`;
      assert.equal(code, expectedCode, `${what}: exit code; stderr: ${stderr}`);
      const lines = stderr.split("\n").filter((line) => line !== "" && !line.startsWith("* "));
      assert.ok(lines.some((line) => expected.test(line)), `${what}: got\n${stderr}`);
      assert.doesNotMatch(stderr, /^\s+at |Uncaught|\.ts:\d+/m, `${what}: no stack trace`);
    }
  });
});

const hasTmux = onPath("tmux");
if (!hasTmux) console.log("share_cli_test.ts: skipped: tmux not installed (the progress bar test)");

Deno.test({
  name: "on a terminal, a download shows a progress bar redrawn in place, then saved (tmux)",
  ignore: !hasTmux,
  async fn() {
    await ShareDir.run(async (dir) => {
      await dir.writeRandom("big.bin", 24 * 2 ** 20);
      // Slow enough that the bar is seen moving.
      const seeder = dir.slowSeeder("s", "big.bin", 6);
      let terminal: Terminal | null = null;
      try {
        const { port } = await seeder.waitFor(is("ready"), "the seeder ready", LONG);
        const args = fetcherArgs(`${dir.path}/t`, `${dir.path}/got`, port, "--exit-when-done");
        terminal = await Terminal.run(dir.path, shareScript, args);
        const bar =
          /^\[[#-]{24}\] big\.bin: (\d+)% \([\d.]+ (?:B|KiB|MiB) of 24\.0 MiB\) [\d.]+ (B|KiB|MiB)\/s from 1 peer, ETA (\d+ s|\?)$/;
        const percents = new Set<string>();
        const done = await terminal.waitForScreen(
          (lines) => {
            const bars = lines.filter((l) => bar.test(l));
            assert.ok(bars.length <= 1, `one bar, redrawn in place:\n${lines.join("\n")}`);
            if (bars[0]) percents.add(bar.exec(bars[0])![1]);
            return lines.some((l) => l.startsWith("[share exited:"));
          },
          "the download to finish",
          LONG,
        );
        assert.ok(done.includes("[share exited: 0]"), done.join("\n"));
        assert.ok(percents.size >= 2, `the bar moved: ${[...percents]}`);
        assert.ok(
          done.some((l) => /^saved big\.bin \(24\.0 MiB, every piece verified\) to /.test(l)),
        );
        assert.ok(!done.some((l) => bar.test(l)), "the bar is gone once the file is saved");
      } finally {
        await terminal?.close();
      }
    });
  },
});

Deno.test({
  name:
    "Ctrl-C during a download clears the bar, says what was kept, exits 130; the same command resumes (tmux)",
  ignore: !hasTmux,
  async fn() {
    await ShareDir.run(async (dir) => {
      const source = await dir.writeRandom("big.bin", 24 * 2 ** 20);
      const seeder = dir.slowSeeder("s", "big.bin", 6);
      let terminal: Terminal | null = null;
      try {
        const { port } = await seeder.waitFor(is("ready"), "the seeder ready", LONG);
        const args = fetcherArgs(`${dir.path}/t`, `${dir.path}/got`, port, "--exit-when-done");
        terminal = await Terminal.run(dir.path, shareScript, args);
        await terminal.waitForScreen(
          (lines) => lines.some((l) => /^\[#+-*\] big\.bin: [1-9]\d*% /.test(l)),
          "the bar past 0%",
          LONG,
        );
        await terminal.send("C-c", true);
        const end = await terminal.waitForScreen(
          (lines) => lines.some((l) => l.startsWith("[share exited:")),
          "the share to end",
          LONG,
        );
        const screen = end.join("\n");
        assert.ok(end.includes("[share exited: 130]"), screen);
        assert.ok(
          !end.some((l) => l.includes("big.bin: ") && l.includes("%")),
          `no bar: ${screen}`,
        );
        const kept = end.find((l) => l.endsWith(" kept; run the same command to resume"));
        assert.match(kept ?? screen, /^big\.bin: [\d.]+ MiB of 24\.0 MiB kept; /);
      } finally {
        await terminal?.close();
      }
      const again = dir.share(
        fetcherArgs("t", "got", (await seeder.waitFor(is("ready"), "")).port, "--exit-when-done"),
      );
      assert.equal(await again.exited(LONG), 0, again.stderr.join("\n"));
      assert.ok(
        (again.events.find(is("saved"))!.resumed as number) > 0,
        "resumed from what was kept",
      );
      assert.deepEqual(await Deno.readFile(`${dir.path}/got/big.bin`), source);
    });
  },
});

Deno.test("--expect-peer: a peer that is not the one expected is refused; the right one is joined", async () => {
  await ShareDir.run(async (dir) => {
    await dir.writeRandom("f.bin", 40_000);
    const seeder = dir.share(["--port", "0", "--data-dir", "s", "--part", "f.bin"]);
    const { port, id } = await seeder.waitFor(is("ready"), "the seeder ready");
    const wrongId = "0".repeat(32);
    const wrong = await dir.runToEnd([
      ...["--port", "0", "--data-dir", "w", "--peer", `127.0.0.1:${port}`],
      ...["--expect-peer", wrongId],
    ]);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(
      wrong.stderr,
      new RegExp(`share: refused 127\\.0\\.0\\.1:${port}: it is not peer ${wrongId}`),
    );
    await assert.rejects(() => Deno.stat(`${dir.path}/downloads/f.bin`), Deno.errors.NotFound);
    const right = dir.share([
      ...["--port", "0", "--data-dir", "r", "--peer", `127.0.0.1:${port}`],
      ...["--expect-peer", String(id), "--exit-when-done"],
    ]);
    assert.equal(await right.exited(), 0, right.stderr.join("\n"));
    const announce = right.events.find(is("announce"))!;
    assert.equal(announce.origin, id, "the manifest is signed by the seeder");
    assert.ok(right.events.some(is("saved")));
  });
});
