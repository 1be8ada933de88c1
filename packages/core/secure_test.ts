import assert from "node:assert/strict";
import fc from "fast-check";
import { closeAll, echo, frameOf, peers, RawPeer, record, waitFor } from "./testing.ts";
import { encodeShared } from "./codec.ts";
import { ConnectError, ProtocolError } from "./errors.ts";
import { FrameDecoder } from "./frame.ts";
import { peerIdFromKey, verifySignature } from "./identity.ts";
import { parseMessage } from "./messages.ts";
import { webCryptoAesGcm } from "./aes_gcm_webcrypto.ts";
import {
  deriveFrameKeys,
  deriveSession,
  FrameCipher,
  newEphemeral,
  sessionFrom,
  transcriptOf,
} from "./secure.ts";

type Attack = "flip" | "replay" | "drop" | "swap" | "truncate";

/**
 * A TCP proxy to `target` that passes frames from the dialer on whole, and, once armed, attacks
 * the next frame: flips one bit of it, sends it twice, drops it, swaps it with the one after, or
 * sends half of it and closes. The other direction is piped through untouched.
 */
function tamperingProxy(target: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const pipes: Promise<void>[] = [];
  let armed: Attack | null = null;
  let held: Uint8Array | null = null;
  const attacked = Promise.withResolvers<Attack>();
  const closeBoth = () => {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  };
  const writeAll = async (to: Deno.Conn, bytes: Uint8Array) => {
    let at = 0;
    while (at < bytes.length) at += await to.write(bytes.subarray(at));
  };
  const forward = async (from: Deno.Conn, to: Deno.Conn) => {
    const decoder = new FrameDecoder({ maxFrameSize: 64 * 2 ** 20 });
    const buffer = new Uint8Array(65536);
    try {
      while (true) {
        const count = await from.read(buffer);
        if (count === null) break;
        for (const body of decoder.push(buffer.subarray(0, count))) {
          const frame = frameOf(body);
          const attack = armed;
          if (held) {
            await writeAll(to, frame); // the frame after the held one goes first
            await writeAll(to, held);
            held = null;
            attacked.resolve("swap");
            continue;
          }
          if (attack === null) {
            await writeAll(to, frame);
            continue;
          }
          armed = null;
          if (attack === "flip") {
            frame[4 + Math.floor(body.length / 2)] ^= 0x10;
            await writeAll(to, frame);
          } else if (attack === "replay") {
            await writeAll(to, frame);
            await writeAll(to, frame);
          } else if (attack === "swap") {
            held = frame;
            continue;
          } else if (attack === "truncate") {
            await writeAll(to, frame.subarray(0, frame.length - 3));
            attacked.resolve(attack);
            closeBoth();
            return;
          } // "drop": nothing is written
          attacked.resolve(attack);
        }
      }
    } catch { /* closed */ }
    closeBoth();
  };
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable, { preventClose: true });
    } catch { /* closed */ }
    closeBoth();
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
      conns.push(client, upstream);
      pipes.push(forward(client, upstream), pipe(upstream, client));
    }
  })();
  return {
    port: listener.addr.port,
    arm(attack: Attack) {
      armed = attack;
    },
    attacked: attacked.promise,
    async close() {
      listener.close();
      await accepting;
      closeBoth();
      await Promise.all(pipes);
    },
  };
}

const attacks: [Attack, RegExp][] = [
  ["flip", /frame \d+ failed authentication: it was altered, replayed or reordered/],
  ["replay", /frame \d+ failed authentication/],
  ["drop", /frame \d+ failed authentication/],
  ["swap", /frame \d+ failed authentication/],
  ["truncate", /connection ended inside a frame/],
];

for (const [attack, pattern] of attacks) {
  Deno.test(`a proxy that attacks a frame (${attack}) is detected, that connection closed, the rest of the mesh unharmed`, async () => {
    const logs: string[] = [];
    const [a, b, c] = await peers(3, { log: (line) => logs.push(line) });
    const errors = record(b, "error");
    const heard: string[] = [];
    b.app(echo).onMessage((body) => heard.push(body.text));
    const proxy = tamperingProxy(b.port);
    try {
      await a.connect("127.0.0.1", proxy.port); // a -> proxy -> b
      await c.connect("127.0.0.1", b.port); // c -> b, direct
      await waitFor(() => b.peers().length === 2, "b to see both");
      await a.app(echo).send(b.id, { text: "before" });
      await waitFor(() => heard.includes("before"), "a message through the proxy");
      proxy.arm(attack);
      // Several frames: a drop or swap is noticed on the frame after the one attacked.
      for (let i = 0; i < 3 && a.peers().length > 0; i++) {
        await a.app(echo).send(b.id, { text: `attacked ${i}` }).catch(() => {});
      }
      assert.equal(await proxy.attacked, attack);
      await waitFor(() => errors.length === 1, "b to report the attack");
      assert.ok(errors[0].error instanceof ProtocolError);
      assert.match(errors[0].error.message, pattern);
      assert.ok(logs.some((l) => l.includes("closed:") && pattern.test(l)), logs.join("\n"));
      await waitFor(() => !b.peers().some((p) => p.id === a.id), "b to drop a");
      // Nothing altered or replayed was delivered: every text b showed was sent once, intact.
      assert.ok(heard.every((text) => /^(before|attacked \d)$/.test(text)), heard.join());
      assert.equal(new Set(heard).size, heard.length, "no message delivered twice");
      // The rest of the mesh keeps working.
      const got = Promise.withResolvers<string>();
      c.app(echo).onMessage((body) => got.resolve(body.text));
      await b.app(echo).send(c.id, { text: "still here" });
      assert.equal(await got.promise, "still here");
      assert.ok((await b.ping(c.id)) > 0);
    } finally {
      await closeAll([a, b, c]);
      await proxy.close();
    }
  });
}

Deno.test("expectPeer: the right id connects, another id is refused before any app message", async () => {
  const [a, b, c] = await peers(3);
  const heard: string[] = [];
  b.app(echo).onMessage((body) => heard.push(body.text));
  const seenByB = record(b, "peer:connected");
  try {
    await assert.rejects(
      () => a.connect("127.0.0.1", b.port, { expectPeer: c.id }),
      (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(error.reason, "wrong-peer");
        assert.match(
          error.message,
          new RegExp(`expected peer ${c.id} but the peer there proved to be ${b.id}`),
        );
        return true;
      },
    );
    assert.equal(a.peers().length, 0);
    await waitFor(() => b.connections().length === 0, "b to see the refused connection end");
    assert.equal(seenByB.length, 0, "a proved nothing to the wrong peer: b never saw it connect");
    await assert.rejects(() => a.connect("127.0.0.1", b.port, { expectPeer: "b0b" }), TypeError);
    const info = await a.connect("127.0.0.1", b.port, { expectPeer: b.id });
    assert.equal(info.id, b.id);
    // Already connected there: the check still applies.
    await assert.rejects(
      () => a.connect("127.0.0.1", b.port, { expectPeer: c.id }),
      /expected peer .* proved to be/,
    );
    assert.equal(heard.length, 0);
  } finally {
    await closeAll([a, b, c]);
  }
});

Deno.test("frames on the wire are sealed: a message's text is not in the bytes", async () => {
  // A nickname long enough that sealed bytes never hold it by chance (two letters would, in a
  // few KiB of them, about once in twenty runs).
  const [a] = await peers(1, { nick: "nickname-in-the-clear" });
  const raw = await RawPeer.dial(a.port);
  try {
    await raw.handshake(undefined, { apps: ["echo"] });
    await waitFor(() => a.peers().length === 1, "handshake");
    a.app(echo).broadcast({ text: "attack at dawn" });
    await waitFor(() => raw.raw.some((b) => new TextDecoder().decode(b).includes("attack")), "it");
    const wire = raw.wire.map((f) => new TextDecoder().decode(f)).join("");
    assert.ok(!wire.includes("attack at dawn"), "the plaintext never crossed the wire");
    assert.ok(!wire.includes("nickname-in-the-clear"), "nor did the nickname");
  } finally {
    await raw.close();
    await a.close();
  }
});

// Fuzzing. Thousands of cases against the pure parts (decoder, cipher, key agreement), and a few
// hundred handshakes over real sockets against a live peer, which must stay up and responsive.

Deno.test("fuzz: the cipher refuses every altered, replayed or misplaced frame, and nothing else fails", async () => {
  const a = await newEphemeral();
  const b = await newEphemeral();
  const transcript = await transcriptOf(new Uint8Array([1]), new Uint8Array([2]));
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 6 }),
      fc.nat(),
      fc.integer({ min: 0, max: 3 }),
      async (bodies, where, how) => {
        const sa = await deriveSession(a, b.publicKey, transcript, true);
        const sb = await deriveSession(b, a.publicKey, transcript, false);
        const header = (n: number) => {
          const h = new Uint8Array(4);
          new DataView(h.buffer).setUint32(0, n);
          return h;
        };
        const sealed = await Promise.all(
          bodies.map((body) => sa.send.seal(body, header(body.length + 16))),
        );
        const victim = where % sealed.length;
        const frames = sealed.map((f) => f.slice());
        if (how === 0) frames[victim][where % frames[victim].length] ^= 1 << (where % 8);
        if (how === 1) frames.splice(victim, 0, frames[victim].slice()); // replayed
        if (how === 2) frames.splice(victim, 1); // dropped
        if (how === 3) frames.push(frames[victim].slice()); // replayed late
        for (let i = 0; i < frames.length; i++) {
          const changed = how === 0
            ? i === victim
            : how === 1
            ? i > victim
            : how === 2
            ? i >= victim
            : i === sealed.length;
          try {
            const plain = await sb.receive.open(frames[i], header(frames[i].length));
            assert.ok(!changed, `frame ${i} should have been refused`);
            assert.deepEqual(plain, bodies[i]);
          } catch (error) {
            if (!(error instanceof ProtocolError)) throw error;
            assert.equal(error.code, "decrypt-failed");
            assert.ok(changed, `frame ${i} was refused though intact`);
            return; // a connection ends at its first failure
          }
        }
        assert.ok(how === 2 && victim === sealed.length - 1, "a change went unnoticed");
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("fuzz: any 32 bytes as the peer's ephemeral key either agree or fail as bad-handshake", async () => {
  const mine = await newEphemeral();
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (key) => {
      try {
        await deriveSession(mine, key, new Uint8Array(32), true);
      } catch (error) {
        assert.ok(error instanceof ProtocolError, String(error));
        assert.equal(error.code, "bad-handshake");
      }
    }),
    { numRuns: 500, examples: [[new Uint8Array(32)], [new Uint8Array(32).fill(255)]] },
  );
});

Deno.test("fuzz: a live peer survives hundreds of broken handshakes and stays responsive", async () => {
  const [a, b] = await peers(2, { maxPendingHandshakes: 64 });
  await b.connect("127.0.0.1", a.port);
  const version = fc.oneof(fc.constant(2), fc.nat());
  const bin = (n: number) =>
    fc.oneof(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array());
  const anything = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.record({
      t: fc.constantFrom("hello", "auth", "ping", "app", "bye", "peers"),
      v: version,
      e: bin(32),
    }),
    fc.anything({ maxDepth: 2 }),
  );
  // A case: a hello (valid, broken or absent), then frames that may be garbage, messages in the
  // clear or sealed, or raw bytes.
  const step = fc.oneof(
    fc.record({ kind: fc.constant("bytes" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
    fc.record({ kind: fc.constant("plain" as const), value: anything }),
    fc.record({ kind: fc.constant("sealed" as const), value: anything }),
  );
  const before = Deno.memoryUsage().rss;
  try {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(step, { maxLength: 4 }), async (hello, steps) => {
        const raw = await RawPeer.dial(a.port);
        try {
          if (hello) {
            await raw.sendHello();
            const theirs = await raw.next("hello");
            if (theirs) await raw.agree(theirs);
          }
          for (const st of steps) {
            if (raw.ended) break;
            const bytes = st.kind === "bytes"
              ? st.bytes
              : st.kind === "plain"
              ? frameOf(encodePlain(st.value))
              : await raw.frame(st.value).catch(() => frameOf(new Uint8Array([0xc1])));
            await raw.sendBytes(bytes).catch(() => {});
          }
        } finally {
          await raw.close();
        }
      }),
      { numRuns: 200 },
    );
    await waitFor(
      () => a.connections().length === 1,
      "every broken connection to be closed",
      60_000,
    );
    assert.ok((await a.ping(b.id)) > 0, "the good neighbour is still served");
    // Memory is bounded by the workers alive at once, not by the cases run: at most 64 handshakes
    // pending (the cap set above) at ~10-15 MiB a worker, which the allocator need not give back.
    // (A fixed 300 MiB failed at 357 on a loaded CI machine, where closing workers overlap more.)
    const grownMiB = (Deno.memoryUsage().rss - before) / 2 ** 20;
    assert.ok(grownMiB < 64 * 16, `RSS grew ${grownMiB.toFixed(0)} MiB over 200 broken handshakes`);
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("fuzz: handshake messages of any shape are accepted by their schema or refused as bad-message", () => {
  const field = fc.oneof(
    fc.uint8Array({ maxLength: 70 }),
    fc.string({ maxLength: 40 }),
    fc.nat(),
    fc.anything({ maxDepth: 1 }),
  );
  const shaped = fc.record(
    {
      t: fc.constantFrom("hello", "auth", "bye", "peers", "ping"),
      v: field,
      e: field,
      key: field,
      sig: field,
      nick: field,
      apps: fc.oneof(fc.array(fc.string({ maxLength: 40 }), { maxLength: 20 }), field),
      listen: fc.oneof(fc.record({ host: field, port: field }), field),
    },
    { requiredKeys: ["t"] },
  );
  fc.assert(
    fc.property(fc.oneof(shaped, fc.anything()), (value) => {
      try {
        parseMessage(value, { echo: echo.schema });
      } catch (error) {
        assert.ok(error instanceof ProtocolError, String(error));
        assert.ok(["bad-message", "unknown-app"].includes(error.code), error.code);
      }
    }),
    { numRuns: 3000 },
  );
});

function encodePlain(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value.length > 0 ? value : new Uint8Array([0xc0]);
  return msgpackOf(value);
}

function msgpackOf(value: unknown): Uint8Array {
  try {
    return encodeShared(value).slice();
  } catch {
    return new Uint8Array([0xc1]); // not encodable: send a byte that is never valid MessagePack
  }
}

Deno.test("FrameCipher counts frames: the nonce of frame n is n, big-endian, after 4 zero bytes", async () => {
  const key = await crypto.subtle.importKey("raw", new Uint8Array(32), "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  const cipher = new FrameCipher(key);
  await cipher.seal(new Uint8Array(1), new Uint8Array(4));
  const second = await cipher.seal(new Uint8Array([7]), new Uint8Array(4));
  const iv = new Uint8Array(12);
  iv[11] = 1;
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv, additionalData: new Uint8Array(4) },
    key,
    second as Uint8Array<ArrayBuffer>,
  );
  assert.deepEqual(new Uint8Array(plain), new Uint8Array([7]));
  assert.equal(cipher.counter, 2);
});

Deno.test("peer.sign signs for apps, never a handshake payload", async () => {
  const [a] = await peers(1);
  try {
    const data = new TextEncoder().encode("notes/1 note\0hello");
    const sig = await a.sign(data);
    assert.ok(await verifySignature(a.publicKey, sig, data));
    assert.equal(await peerIdFromKey(a.publicKey), a.id);
    const forged = new Uint8Array([...new TextEncoder().encode("meshtalk/2 auth"), 0x64]);
    await assert.rejects(() => a.sign(forged), RangeError);
  } finally {
    await a.close();
  }
});

Deno.test("a sealed frame may carry several messages; a cut-off one is refused", async () => {
  const [a] = await peers(1);
  const errors = record(a, "error");
  const heard: string[] = [];
  a.app(echo).onMessage((body) => heard.push(body.text));
  const raw = await RawPeer.dial(a.port);
  try {
    await raw.handshake(undefined, { apps: ["echo"] });
    const one = { t: "app", app: "echo", body: { text: "one" } };
    const two = { t: "app", app: "echo", body: { text: "two" } };
    await raw.sendBytes(await raw.frame(one, [two]));
    await waitFor(() => heard.length === 2, "both messages");
    assert.deepEqual(heard, ["one", "two"]);
    const cut = encodeShared(one).slice();
    await raw.sendBytes(await raw.frame(null, [], new Uint8Array([...cut, ...cut.slice(0, 5)])));
    await waitFor(() => errors.length === 1, "the error");
    assert.match(errors[0].error.message, /frame is not valid MessagePack/);
    assert.deepEqual(heard, ["one", "two"], "nothing of the broken frame was delivered");
  } finally {
    await raw.close();
    await a.close();
  }
});

Deno.test("small messages sent together are sealed together: fewer frames than messages", async () => {
  const [a] = await peers(1);
  const raw = await RawPeer.dial(a.port);
  try {
    await raw.handshake(undefined, { apps: ["echo"] });
    await waitFor(() => a.peers().length === 1, "handshake");
    const before = raw.wire.length;
    for (let i = 0; i < 100; i++) a.app(echo).broadcast({ text: `m${i}` }); // one turn
    const texts: string[] = [];
    while (texts.length < 100) {
      const frame = await raw.next("app");
      assert.ok(frame, "the connection ended early");
      texts.push((frame.body as { text: string }).text);
    }
    assert.deepEqual(texts, Array.from({ length: 100 }, (_, i) => `m${i}`), "all, in order");
    assert.ok(raw.wire.length - before < 100, `${raw.wire.length - before} frames for 100`);
  } finally {
    await raw.close();
    await a.close();
  }
});

Deno.test("sessionFrom pairs each side's ciphers by direction and wipes the frame keys", async () => {
  const a = await newEphemeral();
  const b = await newEphemeral();
  const transcript = await transcriptOf(new Uint8Array([1]), new Uint8Array([2]));
  const keysA = await deriveFrameKeys(a, b.publicKey, transcript);
  const keysB = await deriveFrameKeys(b, a.publicKey, transcript);
  assert.deepEqual(keysA, keysB, "both sides derive the same two keys");
  const dialer = await sessionFrom(keysA, true, webCryptoAesGcm);
  const acceptor = await sessionFrom(keysB, false, webCryptoAesGcm);
  assert.ok(keysA.dialerToAcceptor.every((b) => b === 0), "wiped");
  assert.ok(keysA.acceptorToDialer.every((b) => b === 0), "wiped");
  const header = new Uint8Array([0, 0, 0, 17]);
  const toAcceptor = await dialer.send.seal(new Uint8Array([1]), header);
  assert.deepEqual(await acceptor.receive.open(toAcceptor, header), new Uint8Array([1]));
  const toDialer = await acceptor.send.seal(new Uint8Array([2]), header);
  assert.deepEqual(await dialer.receive.open(toDialer, header), new Uint8Array([2]));
  await assert.rejects(acceptor.receive.open(toDialer, header), /failed authentication/);
});
