import assert from "node:assert/strict";
import { formatAddress, parseAddress, sameAddress } from "./address.ts";

Deno.test("addresses round-trip through text, IPv6 in brackets", () => {
  for (
    const address of [{ host: "127.0.0.1", port: 9000 }, { host: "::1", port: 0 }, {
      host: "peer.example",
      port: 65535,
    }]
  ) {
    assert.deepEqual(parseAddress(formatAddress(address)), address);
  }
  assert.equal(formatAddress({ host: "fe80::1", port: 7 }), "[fe80::1]:7");
});

Deno.test("a bad address is a SyntaxError that says what was expected", () => {
  for (const bad of ["", "host", "host:", ":9000", "host:65536", "host:-1", "a b:1", "::1:80"]) {
    assert.throws(() => parseAddress(bad), SyntaxError, bad);
  }
  assert.equal(sameAddress({ host: "a", port: 1 }, { host: "a", port: 2 }), false);
});
