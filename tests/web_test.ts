// The page of a chat peer (`--web`) in a real browser: two chat processes, one serving its page
// to a headless Chromium. What is typed on the page reaches the other peer, what the other peer
// says appears on the page (as text, markup and all), a file the other peer offers is fetched with
// the page's Get button, and the mesh is drawn. Skipped, saying so, where no Chromium is found.
import assert from "node:assert/strict";
import { randomBytes } from "@meshtalk/core/testing";
import { type Event, MeshProcess } from "./_process.ts";
import { findChromium, launchBrowser } from "./_browser.ts";
import type { Page } from "puppeteer-core";

const LONG = 30_000;
const chromium = findChromium();
if (!chromium) {
  console.log(
    "web test skipped: no Chromium found (apt-get install chromium, or set CHROMIUM to its path)",
  );
}

const is = (event: string, fields: Record<string, unknown> = {}) => (e: Event) =>
  e.event === event && Object.entries(fields).every(([key, value]) => e[key] === value);

/** Waits until `expression`, evaluated in the page, is true (the page's own code, as text). */
async function until(page: Page, expression: string): Promise<void> {
  await page.waitForFunction(expression, { timeout: LONG });
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name:
    "a chat peer's page in a browser: chat both ways, text shown as text, a file fetched with Get, the mesh drawn",
  ignore: !chromium,
  async fn() {
    // The screenshot stays after the test, beside the folder of its peers, which goes.
    const dir = await Deno.makeTempDir({ prefix: "meshtalk-web-test-" });
    const work = `${dir}/work`;
    await Deno.mkdir(work);
    const processes: MeshProcess[] = [];
    const start = async (name: string, ...args: string[]) => {
      const process = new MeshProcess("apps/cli/chat.ts", [
        ...["0", "--host", "127.0.0.1", "--json", "--nick", name],
        ...["--data-dir", `${work}/${name}`, "--out", `${work}/${name}-got`, ...args],
      ], { cwd: work });
      processes.push(process);
      const ready = await process.waitFor(is("ready"), `${name} ready`, LONG);
      return { process, id: ready.id as string, port: ready.port as number };
    };
    const browser = await launchBrowser(chromium!, `${work}/profile`);
    try {
      const ada = await start("ada", "--web", "127.0.0.1:0");
      const url = (await ada.process.waitFor(is("web"), "ada's page", LONG)).url as string;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
      const bare = url.replace(/\?.*$/, "");

      // Without the token: 403, for the page, its files, its live channel and its calls.
      for (const path of ["", "app.js", "events"]) {
        const answer = await fetch(`${bare}${path}`);
        assert.equal(answer.status, 403, `/${path} without the token`);
        await answer.body?.cancel();
      }
      const call = await fetch(`${bare}api/say`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "not without the token" }),
      });
      assert.equal(call.status, 403);
      await call.body?.cancel();
      // A browser that has not the token sees the refusal too.
      const stranger = await browser.createBrowserContext();
      const refused = await (await stranger.newPage()).goto(bare);
      assert.equal(refused?.status(), 403);
      await stranger.close();

      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 1000 });
      const loaded = await page.goto(url);
      assert.equal(loaded?.status(), 200);
      await until(page, `document.querySelector("#status")?.textContent === "live"`);

      const bob = await start("bob", "127.0.0.1", String(ada.port));
      await ada.process.waitFor(is("peer-connected", { id: bob.id }), "bob joined ada", LONG);

      // The mesh: this peer and its one neighbour, one link between them.
      await until(
        page,
        `document.querySelectorAll("#graph g[data-node]").length === 2 &&
          document.querySelectorAll("#graph line").length === 1`,
      );
      const labels = await page.evaluate(
        `[...document.querySelectorAll("#graph g[data-node] text")].map((n) => n.textContent).sort()`,
      );
      assert.deepEqual(labels, ["ada", "bob"]);

      // Typed on the page, it reaches bob.
      await page.type("#text", "hello from the page");
      await page.click("#say button[type=submit]");
      const heard = await bob.process.waitFor(
        is("message", { text: "hello from the page" }),
        "bob to hear the page",
        LONG,
      );
      assert.equal((heard.from as { id: string }).id, ada.id);
      await until(page, `document.querySelector("#text").value === ""`);

      // Said by bob, it appears on the page; markup in it shows as text and runs nothing.
      const markup =
        `<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"><b>bold</b>`;
      await bob.process.type("hello from bob");
      await bob.process.type(markup);
      for (const text of ["hello from the page", "hello from bob", markup]) {
        await until(
          page,
          `[...document.querySelectorAll("#messages .text")].some((n) => n.textContent === ${
            JSON.stringify(text)
          })`,
        );
      }
      const planted = `document.querySelectorAll("#messages b, #messages img, #messages script")`;
      assert.equal(await page.evaluate(`${planted}.length`), 0);
      assert.equal(await page.evaluate(`window.pwned`), undefined);

      // Offered by bob, fetched with the page's Get button: the bar reaches 100%, the file is whole.
      const report = randomBytes(3 * 2 ** 20 + 7);
      await Deno.writeFile(`${work}/report.bin`, report);
      await bob.process.type(`/share ${work}/report.bin`);
      const offer = await bob.process.waitFor(
        is("offer", { name: "report.bin" }),
        "bob's offer",
        LONG,
      );
      const root = offer.hash as string;
      const get = `#offers tr[data-root="${root}"] button`;
      await page.waitForSelector(get, { timeout: LONG });
      await page.click(get);
      const saved = await ada.process.waitFor(is("saved", { hash: root }), "ada saved it", LONG);
      assert.equal(await sha256(await Deno.readFile(saved.path as string)), await sha256(report));
      const transfer = `document.querySelector('#transfers li[data-root="${root}"]')`;
      await until(
        page,
        `${transfer}?.querySelector("progress").value === ${report.length} &&
          ${transfer}.querySelector("progress").max === ${report.length}`,
      );
      assert.match(
        String(await page.evaluate(`${transfer}.querySelector(".what").textContent`)),
        /^report\.bin: 3\.0 MiB of 3\.0 MiB \(100%\), done/,
      );
      await until(
        page,
        `document.querySelector('#offers tr[data-root="${root}"]')?.textContent.includes("have it")`,
      );

      // At a phone's width nothing is wider than the screen, and the box to type in is there.
      await page.setViewport({ width: 390, height: 844 });
      const overflow = await page.evaluate(
        `document.documentElement.scrollWidth - window.innerWidth`,
      ) as number;
      assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone`);
      const input = await page.evaluate(
        `document.querySelector("#text").getBoundingClientRect().width`,
      ) as number;
      assert.ok(input > 150, `the message box is ${input} px wide at a phone's width`);
      await page.screenshot({ path: `${dir}/web-phone.png`, fullPage: true });
      await page.setViewport({ width: 1280, height: 1000 });
      // The link is labelled with its round trip once a heartbeat measured it.
      await until(
        page,
        `/^\\d+\\.\\d ms$/.test(document.querySelector("#graph text.rtt")?.textContent)`,
      );
      await page.screenshot({ path: `${dir}/web.png` });
      console.log(`screenshots: ${dir}/web.png, ${dir}/web-phone.png`);

      // Bob leaves: the page says so, and the mesh is this peer alone.
      await bob.process.kill("SIGTERM");
      await until(
        page,
        `document.querySelectorAll("#graph g[data-node]").length === 1 &&
          document.querySelectorAll("#graph line").length === 0`,
      );
    } finally {
      await browser.close();
      await Promise.all(processes.map((p) => p.kill("SIGTERM")));
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test("share --web serves its page on loopback only; without the token it is 403", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meshtalk-web-share-" });
  const share = new MeshProcess("apps/cli/share.ts", [
    ...["--port", "0", "--host", "127.0.0.1", "--json", "--seed-only"],
    ...["--data-dir", `${dir}/data`, "--web", "0"],
  ], { cwd: dir });
  try {
    const url = (await share.waitFor(is("web"), "the page", LONG)).url as string;
    const { port } = new URL(url);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>meshtalk<\/title>/);
    const bare = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(bare.status, 403);
    await bare.body?.cancel();
    // Another address of this very machine (all of 127/8 is loopback) finds nothing there.
    await assert.rejects(
      () => Deno.connect({ hostname: "127.0.0.2", port: Number(port) }),
      Deno.errors.ConnectionRefused,
    );
  } finally {
    await share.kill("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat --web on a port in use stops at once and says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meshtalk-web-taken-" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const chat = new MeshProcess("apps/cli/chat.ts", [
    ...["0", "--host", "127.0.0.1", "--json", "--no-input"],
    ...["--data-dir", `${dir}/data`, "--web", `127.0.0.1:${taken.addr.port}`],
  ], { cwd: dir });
  try {
    assert.equal(await chat.exited(LONG), 1);
    assert.ok(
      chat.events.some((e) =>
        e.event === "error" &&
        e.message === `chat: --web 127.0.0.1:${taken.addr.port}: that port is in use; ` +
            "choose another (0: any free one)"
      ),
      JSON.stringify(chat.events),
    );
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});
