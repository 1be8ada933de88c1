import assert from "node:assert/strict";
import { ConnectError } from "@meshtalk/core";
import { FileShareError } from "./errors.ts";
import { LinkFetcher } from "./link_fetch.ts";

const link = { root: "ab".repeat(32), host: "10.0.0.7", port: 7000, id: "cd".repeat(16) };

/** A fetcher whose host records its dials and fails them with `failWith`, if set. */
function harness(options: { connected?: boolean; failWith?: Error } = {}) {
  const known = new Set<string>();
  const dials: string[] = [];
  const fetcher = new LinkFetcher({
    known: (root) => known.has(root),
    connected: () => options.connected ?? false,
    connect: (host, port, expectPeer) => {
      dials.push(`${host}:${port} ${expectPeer}`);
      return options.failWith ? Promise.reject(options.failWith) : Promise.resolve();
    },
  });
  const announce = () => {
    known.add(link.root);
    fetcher.announced(link.root);
  };
  return { fetcher, known, dials, announce };
}

async function refusal(promise: Promise<unknown>): Promise<FileShareError> {
  const error = await promise.then(() => null, (e) => e);
  assert.ok(error instanceof FileShareError, String(error));
  return error;
}

Deno.test("a root known already still has the link's peer proven: dialed pinned, or refused", async () => {
  const { fetcher, known, dials } = harness();
  known.add(link.root);
  await fetcher.reach(link, 1000);
  assert.deepEqual(dials, [`10.0.0.7:7000 ${link.id}`]);
  const wrong = new ConnectError("wrong-peer", `expected peer ${link.id} at 10.0.0.7:7000 but…`);
  const altered = harness({ failWith: wrong });
  altered.known.add(link.root);
  assert.equal((await refusal(altered.fetcher.reach(link, 1000))).code, "wrong-peer");
  const neighbour = harness({ connected: true });
  neighbour.known.add(link.root);
  await neighbour.fetcher.reach(link, 1000);
  assert.deepEqual(neighbour.dials, [], "a neighbour with the link's id has proven it");
});

Deno.test("the link's peer is dialed pinned to its id, and its announcement waited for", async () => {
  const { fetcher, dials, announce } = harness();
  const reached = fetcher.reach(link, 60_000);
  await Promise.resolve();
  assert.deepEqual(dials, [`10.0.0.7:7000 ${link.id}`]);
  announce();
  await reached;
});

Deno.test("a neighbour already is not dialed again", async () => {
  const { fetcher, dials, announce } = harness({ connected: true });
  const reached = fetcher.reach(link, 60_000);
  announce();
  await reached;
  assert.deepEqual(dials, []);
});

Deno.test("another peer at the link's address is refused as wrong-peer", async () => {
  const wrong = new ConnectError("wrong-peer", `expected peer ${link.id} at 10.0.0.7:7000 but…`);
  const { fetcher } = harness({ failWith: wrong });
  const error = await refusal(fetcher.reach(link, 60_000));
  assert.equal(error.code, "wrong-peer");
  assert.match(
    error.message,
    /^refused the peer at 10\.0\.0\.7:7000: it is not cdcd.*the link was altered/,
  );
});

Deno.test("an address that cannot be reached is unreachable", async () => {
  const { fetcher } = harness({ failWith: new ConnectError("unreachable", "Connection refused") });
  const error = await refusal(fetcher.reach(link, 60_000));
  assert.equal(error.code, "unreachable");
  assert.equal(error.message, "cannot reach 10.0.0.7:7000 for the link: Connection refused");
});

Deno.test("a root its peer never announces is not-offered once the wait is over", async () => {
  const { fetcher } = harness();
  const error = await refusal(fetcher.reach(link, 1));
  assert.equal(error.code, "not-offered");
  assert.match(
    error.message,
    /^10\.0\.0\.7:7000 \(cdcdcdcd\) did not offer abababababababab… within/,
  );
  assert.match(error.message, /the link's hash was altered/);
});

Deno.test("another root's announcement does not end the wait; closing does", async () => {
  const { fetcher } = harness();
  const reached = refusal(fetcher.reach(link, 60_000));
  fetcher.announced("ef".repeat(32));
  fetcher.close();
  const error = await reached;
  assert.equal(error.code, "not-offered");
  assert.match(error.message, /the share closed/);
});
