// One peer on each path: OpenSSL's AES-256-GCM and the native BLAKE3 (with --allow-ffi), and
// Web Crypto with hash-wasm (without it, as on a machine with no libcrypto or a compiled binary
// without the addon). They must chat and move a file as if nothing differed: the bytes on the wire
// and the piece hashes are the same.
import assert from "node:assert/strict";
import { randomBytes } from "@meshtalk/core/testing";
import { type Event, MeshProcess } from "./_process.ts";

const LONG = 60_000;
/** Everything a peer needs but `--allow-ffi`: it falls back to the portable paths. */
const PORTABLE = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];

const is = (name: string) => (event: Event) => event.event === name;

async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "meshtalk-paths-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a peer on OpenSSL and a peer on Web Crypto chat, each line once", async () => {
  await inTempDir(async (dir) => {
    const fast = new MeshProcess("apps/cli/chat.ts", [
      ...["0", "--host", "127.0.0.1", "--json", "--data-dir", `${dir}/fast`, "--nick", "fast"],
    ]);
    const portable = new MeshProcess(
      "apps/cli/chat.ts",
      ["0", "--host", "127.0.0.1", "--json", "--data-dir", `${dir}/portable`, "--nick", "portable"],
      { permissions: PORTABLE },
    );
    try {
      const [ready, readyPortable] = await Promise.all([
        fast.waitFor(is("ready"), "the fast peer", LONG),
        portable.waitFor(is("ready"), "the portable peer", LONG),
      ]);
      assert.equal(ready.crypto, "openssl");
      assert.equal(readyPortable.crypto, "webcrypto");
      await portable.type(`/connect 127.0.0.1 ${ready.port}`);
      await fast.waitFor(is("peer-connected"), "the connection", LONG);
      await fast.type("sealed by OpenSSL");
      await portable.type("sealed by Web Crypto");
      const atPortable = await portable.waitFor(
        (e) => e.event === "message" && e.text === "sealed by OpenSSL",
        "the fast peer's line",
        LONG,
      );
      const atFast = await fast.waitFor(
        (e) => e.event === "message" && e.text === "sealed by Web Crypto",
        "the portable peer's line",
        LONG,
      );
      assert.equal((atPortable.from as { nick: string }).nick, "fast");
      assert.equal((atFast.from as { nick: string }).nick, "portable");
      for (const peer of [fast, portable]) {
        assert.equal(peer.events.filter(is("message")).length, 1, "each line once");
      }
    } finally {
      await Promise.all([fast.kill("SIGTERM"), portable.kill("SIGTERM")]);
    }
  });
});

Deno.test("a file moves from a seeder on the portable paths to a downloader on the fast ones, and back", async () => {
  await inTempDir(async (dir) => {
    const bytes = randomBytes(3 * 2 ** 20 + 4321);
    await Deno.writeFile(`${dir}/part.bin`, bytes);
    const expected = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
    const share = (name: string, args: string[], permissions?: string[]) =>
      new MeshProcess(
        "apps/cli/share.ts",
        [...args, "--port", "0", "--host", "127.0.0.1", "--json", "--data-dir", `${dir}/${name}`],
        { cwd: dir, permissions },
      );
    const seeder = share("seeder", ["--part", "part.bin", "--seed-only"], PORTABLE);
    const processes = [seeder];
    try {
      const ready = await seeder.waitFor(is("ready"), "the seeder", LONG);
      assert.deepEqual([ready.crypto, ready.blake3], ["webcrypto", "wasm"]);
      const fetcher = share("fetcher", [
        ...["--peer", `127.0.0.1:${ready.port}`, "--out", "fast", "--exit-when-done"],
      ]);
      processes.push(fetcher);
      const fetched = await fetcher.waitFor(is("ready"), "the fetcher", LONG);
      assert.deepEqual([fetched.crypto, fetched.blake3], ["openssl", "native"]);
      assert.equal(await fetcher.exited(), 0, fetcher.stderr.join("\n"));
      const copy = await Deno.readFile(`${dir}/fast/part.bin`);
      assert.deepEqual(new Uint8Array(await crypto.subtle.digest("SHA-256", copy)), expected);
      // And back: the fast peer seeds its copy to a portable downloader.
      const reseeder = share("reseeder", ["--part", "fast/part.bin", "--seed-only"]);
      processes.push(reseeder);
      const again = await reseeder.waitFor(is("ready"), "the fast seeder", LONG);
      const portable = share("portable", [
        ...["--peer", `127.0.0.1:${again.port}`, "--out", "portable", "--exit-when-done"],
      ], PORTABLE);
      processes.push(portable);
      assert.equal(await portable.exited(), 0, portable.stderr.join("\n"));
      const back = await Deno.readFile(`${dir}/portable/part.bin`);
      assert.deepEqual(new Uint8Array(await crypto.subtle.digest("SHA-256", back)), expected);
    } finally {
      await Promise.all(processes.map((p) => p.kill("SIGTERM")));
    }
  });
});
