// The other process of a benchmark: a plain TCP writer, or a meshtalk peer. Prints one JSON line
// when ready; exits when stdin closes (or, for the writers, when done).
import { defineApp, type PeerOptions, s, startPeer } from "../packages/core/mod.ts";
import { startUnencryptedPeerForBenchmark } from "../packages/core/peer.ts";

export const bulk = defineApp(
  "bench",
  s.map({ file: s.str(16), offset: s.uint(), data: s.bin(1 << 20) }),
  { bulk: { data: "data", key: "file", offset: "offset" } },
);

const plaintext = Deno.args.includes("--plaintext");
const [mode, ...args] = Deno.args.filter((arg) => arg !== "--plaintext");
/** The baseline of the encryption ratio runs unencrypted, through an internal entry point. */
const start = (options: PeerOptions) =>
  plaintext ? startUnencryptedPeerForBenchmark(options) : startPeer(options);
const say = (value: unknown) => console.log(JSON.stringify(value));
const stdinClosed = async () => {
  for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
};

if (mode === "plain-writer") {
  const [port, mib] = args.map(Number);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buffer = new Uint8Array(1 << 20);
  for (let i = 0; i < mib; i++) {
    let at = 0;
    while (at < buffer.length) at += await conn.write(buffer.subarray(at));
  }
  conn.close();
} else if (mode === "peer-sender") {
  const [port, mib, chunkKiB] = args.map(Number);
  const peer = await start({ host: "127.0.0.1", apps: [bulk], targetConnections: 0 });
  const info = await peer.connect("127.0.0.1", port);
  const gone = Promise.withResolvers<void>();
  peer.on("peer:disconnected", () => gone.resolve());
  const data = new Uint8Array(chunkKiB * 1024);
  const channel = peer.app(bulk);
  const count = (mib * 1024) / chunkKiB;
  for (let seq = 0; seq < count; seq++) {
    await channel.send(info.id, { file: "mem", offset: seq * data.length, data });
  }
  await gone.promise;
  await peer.close();
} else if (mode === "peer-file-sender") {
  // Sends a file in pieces that the workers read from disk: the main thread never holds them.
  const [port, pieceKiB] = args.slice(0, 2).map(Number);
  const path = args[2];
  const size = (await Deno.stat(path)).size;
  const peer = await start({ host: "127.0.0.1", apps: [bulk], targetConnections: 0 });
  const info = await peer.connect("127.0.0.1", port);
  const gone = Promise.withResolvers<void>();
  peer.on("peer:disconnected", () => gone.resolve());
  const channel = peer.app(bulk);
  const piece = pieceKiB * 1024;
  for (let offset = 0; offset < size; offset += piece) {
    const length = Math.min(piece, size - offset);
    await channel.sendFromFile(info.id, { file: "bench", offset }, { path, offset, length });
  }
  await gone.promise;
  await peer.close();
} else if (mode === "peer") {
  const peer = await startPeer({
    host: "127.0.0.1",
    targetConnections: 0,
    maxConnections: 256,
    maxConnectionsPerAddress: 256, // every connection of the memory bench comes from loopback
    apps: [bulk],
  });
  say({ port: peer.port, id: peer.id });
  await stdinClosed();
  await peer.close();
}
