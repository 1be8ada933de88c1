import assert from "node:assert/strict";
import {
  generateIdentity,
  IdentityError,
  loadOrCreateIdentity,
  peerIdFromKey,
} from "./identity.ts";

Deno.test("an identity is created once, with a 0600 key file, and loaded again", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await loadOrCreateIdentity(`${dir}/peer`);
    const info = await Deno.stat(`${dir}/peer/identity.json`);
    assert.equal(info.mode! & 0o777, 0o600);
    const again = await loadOrCreateIdentity(`${dir}/peer`);
    assert.equal(again.id, first.id);
    assert.equal(first.id, await peerIdFromKey(first.publicKey));
    assert.match(first.id, /^[0-9a-f]{32}$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a key file readable by others is refused with a fix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await loadOrCreateIdentity(dir);
    await Deno.chmod(`${dir}/identity.json`, 0o644);
    await assert.rejects(() => loadOrCreateIdentity(dir), (e: unknown) => {
      assert.ok(e instanceof IdentityError);
      assert.match(e.message, /readable by other users.*chmod 600/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a corrupt key file is refused, not replaced", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/identity.json`, "{not json", { mode: 0o600 });
    await assert.rejects(
      () => loadOrCreateIdentity(dir),
      /does not hold a valid meshtalk key pair/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/identity.json`), "{not json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("distinct identities have distinct ids", async () => {
  const [a, b] = await Promise.all([generateIdentity(), generateIdentity()]);
  assert.notEqual(a.id, b.id);
});
