import assert from "node:assert/strict";
import { FileShareError, formatLink, parseLink, type ShareLink } from "./mod.ts";

const root = "0123456789abcdef".repeat(4);
const id = "fedcba9876543210".repeat(2);

Deno.test("a link round-trips: hosts, IPv6 in brackets, names with any characters", () => {
  const links: ShareLink[] = [
    { root, host: "127.0.0.1", port: 9000, id },
    { root, host: "::1", port: 1, id },
    { root, host: "fe80::1:2", port: 65535, id, name: "report.pdf" },
    { root, host: "peer.example.org", port: 7000, id, name: "a b&c=d?e#f%g+h" },
    { root, host: "10.0.0.7", port: 7000, id, name: "ünïcödé 日本語 \u{1F600}" },
  ];
  for (const link of links) {
    const text = formatLink(link);
    assert.deepEqual(parseLink(text), link, text);
    assert.equal(formatLink(parseLink(text)), text);
  }
  assert.equal(
    formatLink({ root, host: "::1", port: 9000, id, name: "a b" }),
    `meshtalk:${root}?peer=[::1]:9000&id=${id}&name=a%20b`,
  );
});

Deno.test("a link is read leniently where nothing can be mistaken: order, case, white space", () => {
  const text = `  MESHTALK:${root.toUpperCase()}?id=${id.toUpperCase()}&name=x.txt&peer=h:1\n`;
  assert.deepEqual(parseLink(text), { root, host: "h", port: 1, id, name: "x.txt" });
  assert.deepEqual(parseLink(`meshtalk:${root}?peer=%5B%3A%3A1%5D%3A9000&id=${id}`), {
    root,
    host: "::1",
    port: 9000,
    id,
  });
});

Deno.test("every malformed or altered link is a bad-link error saying what is wrong", () => {
  const good = `meshtalk:${root}?peer=10.0.0.7:7000&id=${id}`;
  const cases: [string, string][] = [
    ["", 'it does not start with "meshtalk:"'],
    ["junk", 'it does not start with "meshtalk:"'],
    [`https://example.org/${root}`, 'it does not start with "meshtalk:"'],
    [`meshtalk:${root}`, "it has no ?peer=…&id=… after the hash"],
    [good.replace(root, root.slice(1)), "the hash is not 64 hex characters"],
    [good.replace(root, `${root}0`), "the hash is not 64 hex characters"],
    [good.replace(root, `g${root.slice(1)}`), "the hash is not 64 hex characters"],
    [good.replace(id, id.slice(1)), "the peer id is not 32 hex characters"],
    [good.replace(id, `${id}00`), "the peer id is not 32 hex characters"],
    [good.replace(id, `x${id.slice(1)}`), "the peer id is not 32 hex characters"],
    [good.replace(":7000", ":0"), "the port 0 is not from 1 to 65535"],
    [
      good.replace(":7000", ":65536"),
      'its peer "10.0.0.7:65536" is not host:port (an IPv6 host in brackets)',
    ],
    [
      good.replace(":7000", ":70a0"),
      'its peer "10.0.0.7:70a0" is not host:port (an IPv6 host in brackets)',
    ],
    [good.replace(":7000", ""), 'its peer "10.0.0.7" is not host:port (an IPv6 host in brackets)'],
    [
      good.replace("10.0.0.7", "::1"),
      'its peer "::1:7000" is not host:port (an IPv6 host in brackets)',
    ],
    [
      good.replace("10.0.0.7", "a%20b"),
      'its peer "a b:7000" is not host:port (an IPv6 host in brackets)',
    ],
    [
      good.replace("10.0.0.7", "ex%2Fample"),
      'the host "ex/ample" is not a host name or IP address',
    ],
    [good.replace("peer=10.0.0.7:7000&", ""), "it names no peer (peer=host:port)"],
    [good.replace(`&id=${id}`, ""), "it names no peer id (id=…)"],
    [`${good}&id=${id}`, "it gives id twice"],
    [`${good}&via=relay`, 'it has an unknown part "via" (known: peer, id, name)'],
    [`${good}&`, 'it has an unknown part "" (known: peer, id, name)'],
    [`${good}&name`, "its name has no value"],
    [`${good}&name=%E0%A4%A`, "its name is not percent-encoded UTF-8"],
    [
      `${good}&name=..%2Fx`,
      'its name: refused the file name "../x": it holds a path separator, so it would leave the output folder',
    ],
    [`${good}&name=`, 'its name: refused the file name "": it is empty'],
  ];
  for (const [text, why] of cases) {
    const error = (() => {
      try {
        parseLink(text);
      } catch (e) {
        return e;
      }
    })();
    assert.ok(error instanceof FileShareError, `${text} was taken`);
    assert.equal(error.code, "bad-link");
    const shown = JSON.stringify(text.trim());
    assert.equal(error.message, `${shown} is not a meshtalk link: ${why}`, text);
  }
});

Deno.test("a very long junk link is shown cut short in the error", () => {
  const error = (() => {
    try {
      parseLink(`meshtalk:${"z".repeat(10_000)}`);
    } catch (e) {
      return e as Error;
    }
  })();
  assert.ok(error && error.message.length < 400, error?.message);
});

Deno.test("no link is made of a wrong form", () => {
  assert.throws(() => formatLink({ root: "ab", host: "h", port: 1, id }), TypeError);
  assert.throws(() => formatLink({ root, host: "h", port: 0, id }), /the port 0/);
  assert.throws(() => formatLink({ root, host: "h h", port: 1, id }), /the host/);
  assert.throws(() => formatLink({ root, host: "h", port: 1, id, name: "a/b" }), /its name/);
});
