import assert from "node:assert/strict";
import type { Address } from "@meshtalk/core";
import { HolderDialer } from "./dialer.ts";

function dialer() {
  const dialed: string[] = [];
  const holderDialer = new HolderDialer({
    connect: (address: Address) => {
      dialed.push(`${address.host}:${address.port}`);
      return Promise.reject(new Error("refused")); // failures are not looked at
    },
  });
  return { dialer: holderDialer, dialed };
}

Deno.test("each holder is dialed again only after its backoff, doubling from 1 s to 60 s", () => {
  const { dialer: holders, dialed } = dialer();
  const list = new Map<string, string | null>([["ada", "10.0.0.7:7000"]]);
  const dialAt = (now: number) => {
    const before = dialed.length;
    holders.dial(list, () => false, now);
    return dialed.length > before;
  };
  assert.ok(dialAt(0));
  assert.equal(dialAt(999), false);
  assert.ok(dialAt(1000));
  assert.equal(dialAt(2999), false);
  assert.ok(dialAt(3000));
  let now = 3000;
  for (let i = 0; i < 10; i++) dialAt(now += 60_000);
  assert.equal(dialAt(now + 59_999), false, "never more than 60 s apart, never less once there");
  assert.ok(dialAt(now + 60_000));
});

Deno.test("holders without an address, with a bad one, connected or dropped are not dialed", () => {
  const { dialer: holders, dialed } = dialer();
  const list = new Map<string, string | null>([
    ["me", null],
    ["garbled", "no port here"],
    ["neighbour", "10.0.0.1:1"],
    ["liar", "10.0.0.2:2"],
    ["far", "[::1]:9000"],
  ]);
  holders.dial(list, (id) => id === "neighbour" || id === "liar", 0);
  assert.deepEqual(dialed, ["::1:9000"]);
});
