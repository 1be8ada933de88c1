import assert from "node:assert/strict";
import { newToken, WebGuard } from "./web_auth.ts";

const token = newToken();
const guard = new WebGuard({ token, port: 8080, names: ["mybox.lan"] });

function request(path: string, headers: Record<string, string> = {}): Request {
  return new Request(`http://127.0.0.1:8080${path}`, {
    headers: { host: "127.0.0.1:8080", ...headers },
  });
}

Deno.test("tokens are 256 random bits, never the same twice", () => {
  const tokens = new Set(Array.from({ length: 100 }, newToken));
  assert.equal(tokens.size, 100);
  for (const t of tokens) assert.match(t, /^[0-9a-f]{64}$/);
});

Deno.test("a request needs the token, in its URL or in this port's cookie", () => {
  assert.equal(guard.refusal(request(`/?token=${token}`), "read"), null);
  assert.equal(
    guard.refusal(request("/", { cookie: `a=b; ${guard.cookieName}=${token}` }), "read"),
    null,
  );
  const needsToken = /needs the token/;
  assert.match(guard.refusal(request("/"), "read")!, needsToken);
  assert.match(guard.refusal(request("/?token="), "read")!, needsToken);
  assert.match(guard.refusal(request(`/?token=${token.slice(1)}`), "read")!, needsToken);
  assert.match(guard.refusal(request(`/?token=${newToken()}`), "read")!, needsToken);
  // The cookie of another port's page (cookies are shared by all ports of a host) is not it.
  assert.match(
    guard.refusal(request("/", { cookie: `meshtalk-web-9090=${token}` }), "read")!,
    needsToken,
  );
  assert.ok(guard.tokenInUrl(request(`/?token=${token}`)));
  assert.ok(!guard.tokenInUrl(request("/", { cookie: `${guard.cookieName}=${token}` })));
});

Deno.test("the cookie is this site's only, hidden from scripts, and gone with the browser", () => {
  assert.equal(
    guard.cookie(),
    `meshtalk-web-8080=${token}; Path=/; HttpOnly; SameSite=Strict`,
  );
});

Deno.test("Host must name this port, by address, as localhost or as a name the user gave", () => {
  for (
    const host of [
      "127.0.0.1:8080",
      "localhost:8080",
      "LOCALHOST:8080",
      "[::1]:8080",
      "10.0.0.7:8080",
      "mybox.lan:8080",
    ]
  ) {
    assert.ok(guard.hostAllowed(host), host);
  }
  // A web site's name rebound to 127.0.0.1 (DNS rebinding), another port, or nonsense.
  for (
    const host of [
      null,
      "",
      "evil.example:8080",
      "localhost.evil.example:8080",
      "127.0.0.1:8081",
      "127.0.0.1",
      "[::1]",
      "127.0.0.1:8080:1",
      "a b:8080",
    ]
  ) {
    assert.ok(!guard.hostAllowed(host), String(host));
  }
  assert.ok(new WebGuard({ token, port: 80 }).hostAllowed("localhost"), "port 80 may go unsaid");
  const rebound = request(`/?token=${token}`, { host: "evil.example:8080" });
  assert.match(guard.refusal(rebound, "read")!, /Host "evil.example:8080" is not this server/);
});

Deno.test("the live channel and the calls refuse what another site's page sends", () => {
  const tokened = `/events?token=${token}`;
  // The page itself (a same-origin fetch), a program (no Origin), an address typed by hand.
  assert.equal(guard.refusal(request(tokened, { origin: "http://127.0.0.1:8080" }), "act"), null);
  assert.equal(guard.refusal(request(tokened), "act"), null);
  assert.equal(guard.refusal(request(tokened, { "sec-fetch-site": "same-origin" }), "act"), null);
  assert.equal(guard.refusal(request(tokened, { "sec-fetch-site": "none" }), "act"), null);
  for (
    const headers of <Record<string, string>[]> [
      { origin: "http://evil.example" },
      { origin: "null" },
      { origin: "http://localhost:8080" }, // another origin, though the same machine
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site" },
    ]
  ) {
    assert.match(
      guard.refusal(request(tokened, headers), "act")!,
      /only the page itself/,
      JSON.stringify(headers),
    );
    // Reading the page's files is not acting: a browser sends no Origin on a plain GET anyway.
    assert.equal(guard.refusal(request(`/?token=${token}`, headers), "read"), null);
  }
});
