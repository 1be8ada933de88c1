import assert from "node:assert/strict";
import { type Peer, startPeer } from "@meshtalk/core";
import { waitFor } from "@meshtalk/core/testing";
import { chatApp, ChatError, createChat } from "@meshtalk/chat";
import { createFileShare, filesApp } from "@meshtalk/files";
import { RecordingStream } from "./_recording_stream.ts";
import { Output } from "./output.ts";
import { fileCommands, type PageCommand, startWeb, WebStartError } from "./web.ts";

/** A chat peer with its page, every command the page asks recorded (and `fail` thrown). */
async function withPage(
  body: (
    page: { url: string; peer: Peer; asked: PageCommand[]; stdout: RecordingStream },
  ) => Promise<void>,
  fail?: Error,
): Promise<void> {
  const peer = await startPeer({ host: "127.0.0.1", apps: [chatApp], log: () => {} });
  const chat = createChat(peer, { log: () => {} });
  const stdout = new RecordingStream({ terminal: false });
  const out = new Output(true, { stdout, stderr: new RecordingStream({ terminal: false }) });
  const asked: PageCommand[] = [];
  const web = await startWeb({
    peer,
    chat,
    out,
    address: { host: "127.0.0.1", port: 0 },
    run: (command) => {
      asked.push(command);
      return fail ? Promise.reject(fail) : Promise.resolve();
    },
  });
  try {
    await body({ url: web.url, peer, asked, stdout });
  } finally {
    await web.close();
    chat.close();
    await peer.close();
    await out.flushed();
  }
}

/** POSTs `body` (JSON) to the page's call `name`: status and answer. */
async function post(url: string, name: string, body: unknown): Promise<[number, unknown]> {
  const token = new URL(url).searchParams.get("token");
  const response = await fetch(new URL(`api/${name}?token=${token}`, url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return [response.status, await response.json()];
}

Deno.test("the page's address is said as a line and as a web event, token and all", async () => {
  await withPage(async ({ url, stdout }) => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(JSON.parse(stdout.text.split("\n")[0]), { event: "web", url });
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>meshtalk<\/title>/);
    for (const file of ["app.js", "graph.js", "style.css", "icon.svg"]) {
      const answer = await fetch(new URL(`${file}${new URL(url).search}`, url));
      assert.equal(answer.status, 200, file);
      await answer.body?.cancel();
    }
  });
});

Deno.test("what the page asks becomes the commands of the same names", async () => {
  await withPage(async ({ url, asked }) => {
    const root = "ab".repeat(32);
    assert.deepEqual(await post(url, "say", { text: "hello <b>all</b>" }), [200, {}]);
    assert.deepEqual(await post(url, "say", { text: "just you", to: "cd".repeat(16) }), [200, {}]);
    assert.deepEqual(await post(url, "nick", { nick: "ada" }), [200, {}]);
    assert.deepEqual(asked, [
      { name: "say", text: "hello <b>all</b>" },
      { name: "msg", to: "cd".repeat(16), text: "just you" },
      { name: "nick", nick: "ada" },
    ]);
    // This peer shares no files: the page cannot ask for them.
    assert.deepEqual(await post(url, "get", { file: root }), [404, {
      error: "this peer runs no file sharing",
    }]);
  });
});

Deno.test("what the page sends wrongly is refused with a 400 that says what is wrong", async () => {
  await withPage(async ({ url, asked }) => {
    const refused = async (name: string, body: unknown, error: string) => {
      const [status, answer] = await post(url, name, body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.deepEqual(answer, { error });
    };
    await refused("say", {}, "body.text: missing");
    await refused("say", [], "body: expected a map, got an array");
    await refused("say", { text: 7 }, "body.text: expected a string, got number 7");
    await refused("say", { text: "   " }, "body.text: empty; say something");
    await refused("say", { text: "one\ntwo" }, "body.text: one line only");
    await refused(
      "say",
      { text: "x".repeat(4001) },
      "body.text: string of 4001 characters exceeds 4000",
    );
    await refused("nick", { nick: "two words" }, "body.nick: one word, no spaces");
    await refused("nick", { nick: "" }, "body.nick: one word, no spaces");
    await refused(
      "nick",
      { nick: "x".repeat(33) },
      "body.nick: string of 33 characters exceeds 32",
    );
    assert.deepEqual(asked, []);
  });
});

Deno.test("what a command refuses reaches the page as a 400 with its message", async () => {
  await withPage(async ({ url }) => {
    assert.deepEqual(await post(url, "say", { text: "hi", to: "nobody" }), [400, {
      error: 'no known peer is called "nobody"',
    }]);
  }, new ChatError('no known peer is called "nobody"'));
});

Deno.test("a port in use is said as such, with what to do", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = await startPeer({ host: "127.0.0.1", log: () => {} });
  try {
    await assert.rejects(
      () =>
        startWeb({
          peer,
          out: new Output(true, { stdout: new RecordingStream({ terminal: false }) }),
          address: { host: "127.0.0.1", port: taken.addr.port },
          run: () => Promise.resolve(),
        }),
      (error) => {
        assert.ok(error instanceof WebStartError);
        assert.equal(
          error.message,
          `--web 127.0.0.1:${taken.addr.port}: that port is in use; choose another (0: any free one)`,
        );
        return true;
      },
    );
  } finally {
    taken.close();
    await peer.close();
  }
});

Deno.test("a share's page fetches what is on offer, by root hash, and says what it cannot do", async () => {
  const dir = await Deno.makeTempDir();
  const start = () => startPeer({ host: "127.0.0.1", apps: [filesApp], log: () => {} });
  const [seeder, fetcher] = [await start(), await start()];
  const offering = createFileShare(seeder, { out: `${dir}/seeder` });
  const share = createFileShare(fetcher, { out: `${dir}/got`, wants: () => false });
  try {
    await Deno.writeFile(`${dir}/a.txt`, new TextEncoder().encode("hello"));
    const manifest = await offering.offer(`${dir}/a.txt`);
    const saved = new Promise((resolve) => share.on("saved", resolve));
    await fetcher.connect("127.0.0.1", seeder.port);
    await waitFor(() => share.files().length === 1, "the offer");
    const said: string[] = [];
    const run = fileCommands(share, (line) => said.push(line));
    await run({ name: "get", target: manifest.root });
    await saved;
    assert.deepEqual(await Deno.readTextFile(`${dir}/got/a.txt`), "hello");
    // Here now: nothing more to fetch, nothing to stop.
    await run({ name: "get", target: manifest.root });
    await assert.rejects(
      () => run({ name: "cancel", target: manifest.root }),
      /a\.txt is not being fetched/,
    );
    assert.deepEqual(said, ["fetching a.txt, as the page asked"]);
    await assert.rejects(
      () => run({ name: "get", target: "ef".repeat(32) }),
      /nothing on offer has that hash/,
    );
    await assert.rejects(() => run({ name: "nick", nick: "ada" }), /this peer runs no chat/);
  } finally {
    offering.close();
    share.close();
    await Promise.all([seeder.close(), fetcher.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});
