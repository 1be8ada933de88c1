// Files from the chat, through the real commands: /share a file and a folder, /files, /get by
// number, by name and by link, /cancel, while chat lines keep flowing; share links on the share
// command; altered and malformed links refused with nothing written.
import assert from "node:assert/strict";
import { startPeer } from "@meshtalk/core";
import { randomBytes, waitFor } from "@meshtalk/core/testing";
import { chatApp, createChat } from "@meshtalk/chat";
import { type Event, MeshProcess, runToEnd } from "./_process.ts";
import { onPath, Terminal } from "./_terminal.ts";

const LONG = 60_000;
const is = (event: string, fields: Record<string, unknown> = {}) => (e: Event) =>
  e.event === event && Object.entries(fields).every(([key, value]) => e[key] === value);

/** Chat processes in one temp dir, on 127.0.0.1 (so their links name loopback), stopped at the end. */
async function withChats(
  body: (start: (name: string, ...args: string[]) => Promise<Chat>, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "meshtalk-chat-files-" });
  const processes: MeshProcess[] = [];
  const start = async (name: string, ...args: string[]): Promise<Chat> => {
    const process = new MeshProcess("apps/cli/chat.ts", [
      ...["0", "--host", "127.0.0.1", "--json", "--nick", name, "--data-dir", `${dir}/${name}`],
      ...["--out", `${dir}/${name}-got`, ...args],
    ], { cwd: dir });
    processes.push(process);
    const ready = await process.waitFor(is("ready"), `${name} ready`, LONG);
    return {
      process,
      id: ready.id as string,
      port: ready.port as number,
      out: `${dir}/${name}-got`,
    };
  };
  try {
    await body(start, dir);
  } finally {
    await Promise.all(processes.map((p) => p.kill("SIGTERM")));
    await Deno.remove(dir, { recursive: true });
  }
}

interface Chat {
  process: MeshProcess;
  id: string;
  port: number;
  /** Its --out. */
  out: string;
}

/** Every regular file under `root`, by relative path, with its bytes. */
async function tree(root: string, at = ""): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for await (const entry of Deno.readDir(`${root}/${at}`)) {
    const path = at ? `${at}/${entry.name}` : entry.name;
    if (entry.isDirectory) { for (const [p, b] of await tree(root, path)) files.set(p, b); }
    else files.set(path, await Deno.readFile(`${root}/${path}`));
  }
  return files;
}

/** A folder with nested folders, an empty file and names in several scripts. */
async function makeAlbum(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/album/2026/été`, { recursive: true });
  await Deno.mkdir(`${dir}/album/日本`, { recursive: true });
  await Deno.writeFile(`${dir}/album/cover.bin`, randomBytes(1_500_000));
  await Deno.writeFile(`${dir}/album/2026/été/plage.bin`, randomBytes(700_000));
  await Deno.writeFile(`${dir}/album/日本/富士.txt`, new TextEncoder().encode("山\n"));
  await Deno.writeFile(`${dir}/album/2026/empty`, new Uint8Array(0));
}

Deno.test("three chat peers: a file and a folder offered with /share arrive whole through /get by number, name and link, while lines flow", async () => {
  await withChats(async (start, dir) => {
    const report = randomBytes(3 * 2 ** 20 + 11);
    await Deno.writeFile(`${dir}/report.bin`, report);
    await makeAlbum(dir);
    const ada = await start("ada");
    const bob = await start("bob", "127.0.0.1", String(ada.port));
    const cy = await start("cy", "127.0.0.1", String(bob.port));
    await cy.process.waitFor(is("peer-connected", { id: bob.id }), "cy joined", LONG);
    // A peer that runs the chat only, in this process: it keeps relaying and showing lines.
    const plain = await startPeer({ port: 0, host: "127.0.0.1", apps: [chatApp], log: () => {} });
    const plainChat = createChat(plain, { log: () => {} });
    const plainLines: string[] = [];
    plainChat.onMessage((message) => plainLines.push(message.text));
    try {
      await plain.connect("127.0.0.1", bob.port);

      await ada.process.type("/share report.bin");
      await ada.process.type("/share album");
      const offers = [
        await ada.process.waitFor(is("offer", { name: "report.bin" }), "report offered", LONG),
        await ada.process.waitFor(is("offer", { name: "album" }), "album offered", LONG),
      ];
      assert.equal(offers[1].kind, "folder");
      assert.equal(offers[1].files, 4);
      for (const offer of offers) {
        assert.match(
          String(offer.link),
          new RegExp(
            `^meshtalk:${offer.hash}\\?peer=127\\.0\\.0\\.1:${ada.port}&id=${ada.id}&name=`,
          ),
        );
      }

      // Offers are invitations: seen everywhere, fetched nowhere until asked.
      const offered = await bob.process.waitFor(
        is("file-offered", { name: "report.bin" }),
        "the offer at bob",
        LONG,
      );
      assert.deepEqual(offered.from, { id: ada.id, nick: "ada" });
      await bob.process.waitFor(is("file-offered", { name: "album" }), "the album at bob", LONG);
      await cy.process.waitFor(is("file-offered", { name: "album" }), "the album at cy", LONG);
      await bob.process.type("/files");
      const listed = await bob.process.waitFor(is("files"), "bob's /files", LONG);
      const rows = listed.files as {
        number: number;
        name: string;
        state: string;
        holders: number;
      }[];
      assert.deepEqual(rows.map((r) => [r.name, r.state]).sort(), [["album", "known"], [
        "report.bin",
        "known",
      ]]);
      assert.ok(
        bob.process.stderr.some((l) =>
          /^\* ada offers report\.bin \(3\.0 MiB\) - \/get report\.bin$/.test(l)
        ),
        bob.process.stderr.join("\n"),
      );
      assert.equal(
        bob.process.events.filter(is("saved")).length +
          cy.process.events.filter(is("saved")).length,
        0,
      );

      // bob by number and by name; cy by the links. Lines go on meanwhile, each shown once.
      const reportNumber = rows.find((r) => r.name === "report.bin")!.number;
      await bob.process.type(`/get ${reportNumber}`);
      await bob.process.type("/get album");
      await cy.process.type(`/get ${offers[0].link}`);
      await cy.process.type(`/get ${offers[1].link}`);
      for (let i = 0; i < 5; i++) await ada.process.type(`line ${i} while files move`);
      for (const peer of [bob, cy]) {
        for (const name of ["report.bin", "album"]) {
          await peer.process.waitFor(is("saved", { name }), `${name} saved`, LONG);
        }
        assert.deepEqual(await Deno.readFile(`${peer.out}/report.bin`), report);
        const [want, got] = [await tree(`${dir}/album`), await tree(`${peer.out}/album`)];
        assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
        for (const [path, bytes] of want) assert.deepEqual(got.get(path), bytes, path);
        for (let i = 0; i < 5; i++) {
          const text = `line ${i} while files move`;
          await peer.process.waitFor(is("message", { text }), `line ${i}`, LONG);
          assert.equal(peer.process.events.filter(is("message", { text })).length, 1);
        }
      }
      await waitFor(() => plainLines.length >= 5, "the lines at the chat-only peer", LONG);
      assert.deepEqual(plainLines, [0, 1, 2, 3, 4].map((i) => `line ${i} while files move`));
      // The offering side said who it sent what to.
      await ada.process.waitFor(
        (e) => e.event === "upload" && e.type === "start",
        "an upload",
        LONG,
      );
    } finally {
      plainChat.close();
      await plain.close();
    }
  });
});

Deno.test("/cancel keeps what was verified and /get resumes; altered and malformed links are refused", async () => {
  await withChats(async (start, dir) => {
    const big = randomBytes(24 * 2 ** 20);
    await Deno.writeFile(`${dir}/big.bin`, big);
    // Slow enough that the /cancel lands mid-way.
    const ada = await start("ada", "--max-upload", "6");
    const bob = await start("bob", "127.0.0.1", String(ada.port));
    await bob.process.waitFor(is("peer-connected", { id: ada.id }), "bob joined", LONG);
    await ada.process.type("/share big.bin");
    const offer = await ada.process.waitFor(is("offer"), "offered", LONG);
    const link = String(offer.link);

    // Altered: another (valid) id, another hash; malformed: cut short. Nothing is written.
    const otherId = link.replace(/id=[0-9a-f]{32}/, `id=${"0".repeat(32)}`);
    await bob.process.type(`/get ${otherId}`);
    await bob.process.waitFor(
      (e) =>
        e.event === "error" && /it is not 0{32}, the peer the link names/.test(String(e.message)),
      "the altered id refused",
      LONG,
    );
    await bob.process.type(`/get ${link.slice(0, 40)}`);
    await bob.process.waitFor(
      (e) => e.event === "error" && /is not a meshtalk link/.test(String(e.message)),
      "the malformed link refused",
      LONG,
    );
    await assert.rejects(() => Deno.stat(`${bob.out}/big.bin`), Deno.errors.NotFound);

    await bob.process.waitFor(is("file-offered", { name: "big.bin" }), "the offer at bob", LONG);
    await bob.process.type("/get big.bin");
    await bob.process.waitFor(
      (e) => e.event === "progress" && (e.bytes as number) > 0,
      "some bytes",
      LONG,
    );
    await bob.process.type("/cancel big.bin");
    const cancelled = await bob.process.waitFor(is("cancelled"), "the cancel", LONG);
    assert.ok((cancelled.bytes as number) > 0);
    await bob.process.type("/get big.bin");
    const saved = await bob.process.waitFor(is("saved", { name: "big.bin" }), "saved", LONG);
    assert.ok((saved.resumed as number) > 0, "resumed what the cancel kept");
    assert.deepEqual(await Deno.readFile(`${bob.out}/big.bin`), big);
  });
});

Deno.test("share <link> fetches exactly what it names and exits; an altered link fails, a malformed one is a usage error, nothing written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meshtalk-share-link-" });
  const seeder = new MeshProcess("apps/cli/share.ts", [
    ...["--port", "0", "--host", "127.0.0.1", "--data-dir", "s", "--json"],
    ...["--part", "wanted.bin", "--part", "other.bin"],
  ], { cwd: dir });
  try {
    const wanted = randomBytes(2 * 2 ** 20 + 5);
    await Deno.writeFile(`${dir}/wanted.bin`, wanted);
    await Deno.writeFile(`${dir}/other.bin`, randomBytes(1000));
    const offer = await seeder.waitFor(is("offer", { name: "wanted.bin" }), "offered", LONG);
    const link = String(offer.link);
    const fetch = (out: string, text: string) =>
      runToEnd("apps/cli/share.ts", [
        "--port",
        "0",
        "--data-dir",
        `${out}-data`,
        "--out",
        out,
        text,
      ], { cwd: dir });

    const ok = await fetch("got", link);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(await Deno.readFile(`${dir}/got/wanted.bin`), wanted);
    assert.deepEqual(
      [...Deno.readDirSync(`${dir}/got`)].map((e) => e.name).filter((n) => !n.startsWith(".")),
      ["wanted.bin"],
    );

    const altered = await fetch("altered", link.replace(/id=[0-9a-f]{32}/, `id=${"f".repeat(32)}`));
    assert.equal(altered.code, 1, altered.stderr);
    assert.match(altered.stderr, /the link was altered, or another peer listens there now/);
    const malformed = await fetch("malformed", link.replace("meshtalk:", "meshtalk:zz"));
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.match(malformed.stderr, /is not a meshtalk link/);
    for (const out of ["altered", "malformed"]) {
      const names = await Array.fromAsync(Deno.readDir(`${dir}/${out}`)).catch(() => []);
      assert.deepEqual(names.filter((e) => !e.name.startsWith(".")), [], `${out}: nothing saved`);
    }
  } finally {
    await seeder.kill("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
});

const hasTmux = onPath("tmux");
if (!hasTmux) {
  console.log("chat_files_test.ts: skipped: tmux not installed (the progress bar test)");
}

Deno.test({
  name: "in a terminal, a /get shows its progress bar above the prompt, which stays whole (tmux)",
  ignore: !hasTmux,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "meshtalk-chat-bar-" });
    await Deno.writeFile(`${dir}/big.bin`, randomBytes(24 * 2 ** 20));
    const seeder = new MeshProcess("apps/cli/share.ts", [
      ...["--port", "0", "--host", "127.0.0.1", "--data-dir", "s", "--json"],
      ...["--part", "big.bin", "--max-upload", "6"],
    ], { cwd: dir });
    let terminal: Terminal | null = null;
    try {
      const { port } = await seeder.waitFor(is("ready"), "the seeder ready", LONG);
      terminal = await Terminal.run(dir, "apps/cli/chat.ts", [
        ...["0", "127.0.0.1", String(port), "--nick", "yy", "--data-dir", `${dir}/yy`],
        ...["--out", `${dir}/got`],
      ]);
      const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1) ?? "";
      await terminal.waitForScreen(
        (lines) => lines.some((l) => l.startsWith("* peer-") && l.includes("offers big.bin")),
        "the offer",
        LONG,
      );
      await terminal.send("/get big.bin");
      await terminal.send("Enter", true);
      await terminal.send("half typed");
      const bar = /^\[[#-]{24}\] big\.bin: \d+% /;
      const during = await terminal.waitForScreen(
        (lines) => lines.some((l) => bar.test(l)) && lastLine(lines) === "> half typed",
        "a bar above the prompt",
        LONG,
      );
      const rows = during.filter((l) => l !== "");
      assert.match(rows.at(-2)!, bar, "the bar right above the prompt");
      const after = await terminal.waitForScreen(
        (lines) =>
          lines.some((l) => l.startsWith("saved big.bin (24.0 MiB, every piece verified)")),
        "the file saved",
        LONG,
      );
      assert.equal(lastLine(after), "> half typed", after.join("\n"));
      assert.ok(!after.some((l) => bar.test(l)), `the bar is gone:\n${after.join("\n")}`);
    } finally {
      await terminal?.close();
      await seeder.kill("SIGTERM");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
