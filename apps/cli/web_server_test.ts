import assert from "node:assert/strict";
import { type ApiHandler, startWebServer, WebRequestError, type WebServer } from "./web_server.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const files = new Map([
  ["index.html", { body: encode("<p>the page</p>"), type: "text/html; charset=utf-8" }],
  ["app.js", { body: encode("console.log(1)"), type: "text/javascript; charset=utf-8" }],
]);

/** A server with `api`, stopped after `body` however it ends. */
async function withServer(
  body: (server: WebServer, base: string, token: string) => Promise<void>,
  api: Record<string, ApiHandler> = {},
  onError?: (error: unknown) => void,
): Promise<void> {
  const server = startWebServer({
    hostname: "127.0.0.1",
    port: 0,
    files,
    greeting: () => [{ event: "snapshot", data: { hello: "page" } }],
    api,
    maxBodyBytes: 1024,
    onError,
  });
  try {
    const token = new URL(server.url).searchParams.get("token")!;
    await body(server, `http://127.0.0.1:${server.port}`, token);
  } finally {
    await server.close();
  }
}

/** Status and body text of a request, the body read whole. */
async function call(url: string, init: RequestInit = {}): Promise<[number, string, Headers]> {
  const response = await fetch(url, init);
  return [response.status, await response.text(), response.headers];
}

/** A POST of `body` as JSON to the call `name`. */
function post(base: string, token: string, name: string, body: string, headers = {}) {
  return call(`${base}/api/${name}?token=${token}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

/** A raw HTTP/1.1 GET, for headers `fetch` will not send as given (Host); its status line. */
async function rawGet(port: number, path: string, host: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
  let text = "";
  for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) text += chunk;
  return text.split("\r\n")[0];
}

Deno.test("the page is served with its token, and its first load sets the cookie that stands for it", async () => {
  await withServer(async (server, base, token) => {
    assert.equal(server.url, `${base}/?token=${token}`);
    assert.match(token, /^[0-9a-f]{64}$/);
    const [status, text, headers] = await call(server.url);
    assert.equal(status, 200);
    assert.equal(text, "<p>the page</p>");
    assert.equal(headers.get("content-type"), "text/html; charset=utf-8");
    const cookie = headers.get("set-cookie")!;
    assert.equal(cookie, `meshtalk-web-${server.port}=${token}; Path=/; HttpOnly; SameSite=Strict`);
    assert.match(headers.get("content-security-policy")!, /default-src 'none'; script-src 'self'/);
    assert.equal(headers.get("x-frame-options"), "DENY");
    assert.equal(headers.get("referrer-policy"), "no-referrer");
    // The page's own requests carry the cookie rather than the token.
    const byCookie = { headers: { cookie: cookie.split(";")[0] } };
    assert.deepEqual((await call(`${base}/app.js`, byCookie)).slice(0, 2), [200, "console.log(1)"]);
    assert.equal((await call(`${base}/app.js`, byCookie))[2].get("set-cookie"), null);
    assert.equal((await call(`${base}/nothing.js`, byCookie))[0], 404);
    assert.equal((await call(`${base}/`, { ...byCookie, method: "DELETE" }))[0], 405);
  });
});

Deno.test("without the token everything is 403: the page, its files, the live channel, the calls", async () => {
  let called = false;
  await withServer(async (_, base, token) => {
    for (
      const path of ["/", "/index.html", "/app.js", "/events", "/nothing", `/?token=${token}x`]
    ) {
      const [status, text] = await call(`${base}${path}`);
      assert.equal(status, 403, path);
      assert.match(text, /^403: this page needs the token/);
    }
    const [status] = await call(`${base}/api/say`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(status, 403);
  }, { say: () => called = true });
  assert.equal(called, false);
});

Deno.test("a Host that is not this server (DNS rebinding) gets nothing, token or not", async () => {
  await withServer(async (server, _, token) => {
    const port = server.port;
    assert.match(await rawGet(port, `/?token=${token}`, `127.0.0.1:${port}`), / 200 /);
    assert.match(await rawGet(port, `/?token=${token}`, `localhost:${port}`), / 200 /);
    assert.match(await rawGet(port, `/?token=${token}`, `attacker.example:${port}`), / 403 /);
    assert.match(await rawGet(port, `/events?token=${token}`, `attacker.example:${port}`), / 403 /);
    assert.match(await rawGet(port, `/?token=${token}`, `127.0.0.1:${port + 1}`), / 403 /);
  });
});

Deno.test("the live channel and the calls refuse another site's Origin", async () => {
  let calls = 0;
  await withServer(async (_, base, token) => {
    const evil = { origin: "http://attacker.example" };
    assert.equal((await call(`${base}/events?token=${token}`, { headers: evil }))[0], 403);
    assert.equal((await post(base, token, "count", "{}", evil))[0], 403);
    assert.equal(
      (await post(base, token, "count", "{}", { "sec-fetch-site": "cross-site" }))[0],
      403,
    );
    const own = { origin: base };
    assert.deepEqual((await post(base, token, "count", "{}", own)).slice(0, 2), [200, '{"n":1}']);
  }, { count: () => ({ n: ++calls }) });
  assert.equal(calls, 1);
});

Deno.test("calls take bounded JSON bodies and answer errors as JSON a page can show", async () => {
  const failures: unknown[] = [];
  await withServer(async (_, base, token) => {
    assert.deepEqual((await post(base, token, "echo", '{"a":[1,2]}')).slice(0, 2), [
      200,
      '{"a":[1,2]}',
    ]);
    assert.deepEqual((await post(base, token, "nothing", "{}")).slice(0, 2), [200, "{}"]);
    const wrong = async (
      name: string,
      body: string,
      status: number,
      error: RegExp,
      headers = {},
    ) => {
      const [got, text] = await post(base, token, name, body, headers);
      assert.equal(got, status, `${name} ${body.slice(0, 40)}`);
      assert.match(JSON.parse(text).error, error);
    };
    await wrong("echo", "{nope", 400, /^the body is not JSON: /);
    await wrong("echo", "", 400, /^the body is not JSON: /);
    await wrong("echo", "{}", 415, /application\/json/, { "content-type": "text/plain" });
    await wrong("echo", JSON.stringify({ text: "x".repeat(2000) }), 413, /over 1024 bytes/);
    // Streamed without a length, it is cut off as soon as it passes the bound.
    let chunks = 0;
    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (++chunks > 8) controller.close();
        else controller.enqueue(encode(" ".repeat(512)));
      },
    });
    const [status] = await call(`${base}/api/echo?token=${token}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chunked,
    });
    assert.equal(status, 413);
    await wrong("refuse", "{}", 400, /^no, because$/);
    await wrong("gone", "{}", 404, /^no such call$/);
    await wrong("broken", "{}", 500, /its log says why/);
    assert.equal((await call(`${base}/api/echo?token=${token}`))[0], 405);
  }, {
    echo: (body) => body,
    nothing: () => undefined,
    refuse: () => {
      throw new WebRequestError("no, because");
    },
    broken: () => Promise.reject(new Error("a bug")),
  }, (error) => failures.push(error));
  assert.deepEqual(failures.map((e) => (e as Error).message), ["a bug"]);
});

Deno.test("the live channel opens with the greeting, carries what is sent, and ends when the server closes", async () => {
  const server = startWebServer({
    hostname: "127.0.0.1",
    port: 0,
    files,
    greeting: () => [{ event: "snapshot", data: { hello: "page" } }],
    api: {},
  });
  const token = new URL(server.url).searchParams.get("token")!;
  const response = await fetch(`http://127.0.0.1:${server.port}/events?token=${token}`);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const readUntil = async (part: string) => {
    while (!text.includes(part)) text += (await reader.read()).value ?? "";
  };
  await readUntil('data: {"hello":"page"}\n\n');
  assert.ok(text.startsWith("retry: 2000\n\nevent: snapshot\n"));
  server.send("message", { text: "line one\nline two <b>" });
  await readUntil("event: message\n");
  await readUntil("\n\n");
  assert.ok(text.endsWith('event: message\ndata: {"text":"line one\\nline two <b>"}\n\n'));
  await server.close();
  while (!(await reader.read()).done) { /* what was left */ }
});
