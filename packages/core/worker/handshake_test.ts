import assert from "node:assert/strict";
import { webCryptoAesGcm } from "../aes_gcm_webcrypto.ts";
import type { Cipher } from "../cipher.ts";
import { decodeValue } from "../codec.ts";
import { ProtocolError } from "../errors.ts";
import { generateIdentity, type Identity } from "../identity.ts";
import type { Auth, Hello, Message } from "../messages.ts";
import type { Session } from "../secure.ts";
import type { EphemeralKeys, ProvenAuth } from "../worker_protocol.ts";
import { Handshake, type HandshakeSetup } from "./handshake.ts";

/** One side: its handshake and what it asked to send or reported. */
function side(identity: Identity, setup: Partial<HandshakeSetup> & { dialer: boolean }) {
  const said = {
    hello: null as Uint8Array | null,
    auths: [] as Auth[],
    session: null as Session<Cipher> | null,
    ready: null as [ProvenAuth, EphemeralKeys] | null,
  };
  const handshake = new Handshake(
    { ...identity, nick: setup.dialer ? "dialer" : "acceptor", apps: ["chat"], ...setup },
    webCryptoAesGcm,
    {
      hello: (body) => said.hello = body,
      keys: (session) => said.session = session,
      auth: (auth) => said.auths.push(auth),
      ready: (remote, keys) => said.ready = [remote, keys],
    },
  );
  return { handshake, said };
}

const helloOf = (body: Uint8Array) => decodeValue(body) as Hello;

async function started(a: ReturnType<typeof side>, b: ReturnType<typeof side>) {
  await Promise.all([a.handshake.start(), b.handshake.start()]);
  await a.handshake.receive(helloOf(b.said.hello!), b.said.hello!);
  await b.handshake.receive(helloOf(a.said.hello!), a.said.hello!);
}

Deno.test("two sides prove who they are and agree on ciphers that talk to each other", async () => {
  const [di, ai] = await Promise.all([generateIdentity(), generateIdentity()]);
  const dialer = side(di, { dialer: true });
  const acceptor = side(ai, { dialer: false, listen: { host: "", port: 4000 } });
  await started(dialer, acceptor);
  assert.equal(dialer.said.auths.length, 1, "each sends its auth once the keys are agreed");
  await acceptor.handshake.receive(dialer.said.auths[0], new Uint8Array(0));
  await dialer.handshake.receive(acceptor.said.auths[0], new Uint8Array(0));
  assert.ok(dialer.handshake.done && acceptor.handshake.done);

  const [remote, keys] = dialer.said.ready!;
  assert.equal(remote.id, ai.id);
  assert.deepEqual(remote.key, ai.publicKey);
  assert.equal(remote.nick, "acceptor");
  assert.deepEqual(remote.apps, ["chat"]);
  assert.deepEqual(remote.listen, { host: "", port: 4000 });
  assert.equal(acceptor.said.ready![0].id, di.id);
  assert.deepEqual(acceptor.said.ready![1], { mine: keys.theirs, theirs: keys.mine });

  const send = dialer.said.session!.send;
  const receive = acceptor.said.session!.receive;
  assert.ok(!send.sync && !receive.sync);
  const header = new Uint8Array([0, 0, 0, 17]);
  assert.deepEqual(
    await receive.open(await send.seal(new Uint8Array([5]), header), header),
    new Uint8Array([5]),
  );
});

Deno.test("a dialer that expects another id never sends its auth to the peer it found", async () => {
  const [di, ai, other] = await Promise.all([
    generateIdentity(),
    generateIdentity(),
    generateIdentity(),
  ]);
  const dialer = side(di, { dialer: true, expectPeer: other.id });
  const acceptor = side(ai, { dialer: false });
  await started(dialer, acceptor);
  assert.equal(dialer.said.auths.length, 0, "held back until the acceptor proved its id");
  await assert.rejects(
    dialer.handshake.receive(acceptor.said.auths[0], new Uint8Array(0)),
    (error: unknown) =>
      error instanceof ProtocolError && error.code === "wrong-peer" &&
      error.message === `expected peer ${other.id} but the peer there proved to be ${ai.id}`,
  );
  assert.equal(dialer.said.auths.length, 0);

  const right = side(di, { dialer: true, expectPeer: ai.id });
  const acceptor2 = side(ai, { dialer: false });
  await started(right, acceptor2);
  await right.handshake.receive(acceptor2.said.auths[0], new Uint8Array(0));
  assert.equal(right.said.auths.length, 1, "sent once the acceptor proved the id expected");
});

Deno.test("an auth whose signature does not verify is refused as bad-identity", async () => {
  const [di, ai, impostor] = await Promise.all([
    generateIdentity(),
    generateIdentity(),
    generateIdentity(),
  ]);
  const dialer = side(di, { dialer: true });
  const acceptor = side(ai, { dialer: false });
  await started(dialer, acceptor);
  const forged = { ...acceptor.said.auths[0], key: impostor.publicKey };
  await assert.rejects(
    dialer.handshake.receive(forged, new Uint8Array(0)),
    /peer could not prove it holds the key of id .*: its signature of this handshake does not verify/,
  );
});

Deno.test("handshake messages out of order, or of another version, are refused", async () => {
  const [di, ai] = await Promise.all([generateIdentity(), generateIdentity()]);
  const a = side(di, { dialer: true });
  await a.handshake.start();
  const ping: Message = { t: "ping", n: 1 };
  await assert.rejects(
    a.handshake.receive(ping, new Uint8Array(0)),
    /got "ping" where the protocol expects hello/,
  );
  const b = side(ai, { dialer: false });
  await b.handshake.start();
  const old = { ...helloOf(b.said.hello!), v: 1 };
  await assert.rejects(
    a.handshake.receive(old, b.said.hello!),
    (error: unknown) => error instanceof ProtocolError && error.code === "version-mismatch",
  );

  const c = side(di, { dialer: true });
  const d = side(ai, { dialer: false });
  await started(c, d);
  await assert.rejects(
    c.handshake.receive(helloOf(d.said.hello!), d.said.hello!),
    /got "hello" where the protocol expects auth/,
  );
  await c.handshake.receive(d.said.auths[0], new Uint8Array(0));
  await assert.rejects(
    c.handshake.receive(d.said.auths[0], new Uint8Array(0)),
    /got "auth" where the protocol expects no second handshake/,
  );
});
