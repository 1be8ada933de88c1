import assert from "node:assert/strict";
import { waitFor } from "@meshtalk/core/testing";
import { EventHub } from "./web_events.ts";

function reader(response: Response) {
  return response.body!.pipeThrough(new TextDecoderStream()).getReader();
}

Deno.test("every open page gets each event; a page that closed is forgotten", async () => {
  const hub = new EventHub();
  const [a, b] = [reader(hub.open([])), reader(hub.open([]))];
  assert.equal(hub.size, 2);
  await a.read();
  await b.read(); // "retry: …"
  hub.send("notice", { text: "hi" });
  for (const page of [a, b]) {
    assert.equal((await page.read()).value, 'event: notice\ndata: {"text":"hi"}\n\n');
  }
  await b.cancel();
  assert.equal(hub.size, 1);
  hub.close();
  assert.equal(hub.size, 0);
  assert.equal((await a.read()).done, true);
  assert.equal(hub.open([]).status, 503, "a closed hub takes no more pages");
});

Deno.test("past the most pages at once, another is told to close one", async () => {
  const hub = new EventHub({ maxClients: 2 });
  const open = [reader(hub.open([])), reader(hub.open([]))];
  const refused = hub.open([]);
  assert.equal(refused.status, 503);
  assert.match(await refused.text(), /too many pages/);
  hub.close();
  for (const page of open) await page.cancel();
});

Deno.test("a page that reads nothing is dropped once it is far behind; the others go on", async () => {
  const hub = new EventHub({ maxQueuedBytes: 64 * 1024 });
  const idle = hub.open([]).body!.getReader(); // never read
  const busy = reader(hub.open([]));
  let received = "";
  const reading = (async () => {
    for (let r = await busy.read(); !r.done; r = await busy.read()) received += r.value;
  })();
  const big = "x".repeat(8 * 1024);
  for (let i = 0; i < 20; i++) {
    hub.send("state", { big, i });
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(hub.size, 1, "the idle page was dropped");
  await assert.rejects(async () => {
    while (!(await idle.read()).done) { /* what it had */ }
  }, /page too slow/);
  await waitFor(() => received.includes('"i":19'), "the busy page to get everything");
  hub.close();
  await reading;
});

Deno.test("an idle stream gets a comment now and then, so nothing on the way closes it", async () => {
  const hub = new EventHub({ keepAliveMs: 20 });
  const page = reader(hub.open([]));
  await page.read(); // "retry: …"
  assert.equal((await page.read()).value, ": keep-alive\n\n");
  hub.close();
  await page.cancel();
});
