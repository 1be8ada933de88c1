// deno task bench: the core's figures, each as a ratio against a baseline measured in the same
// run. Prints a table and writes bench/results/core.json (with the CPU model), then runs the
// files and chat benchmarks (bench/files.ts, bench/chat.ts: their own tables and JSON, and the
// peers they are compared with: WebTorrent, js-libp2p gossipsub).
//
// Environment (all optional): BENCH_MIB, the bulk copies' size (default 1024 MiB);
// BENCH_SKIP_FILES=1, BENCH_SKIP_CHAT=1, skip those benchmarks; BENCH_SKIP_PEERS=1, skip the
// peers they are compared with. Each of files.ts and chat.ts reads more: see their headers.
import { decodeValue } from "../packages/core/codec.ts";
import { encodeFrame, FrameDecoder } from "../packages/core/frame.ts";
import { RawPeer } from "../packages/core/testing.ts";
import { startPeer, verifySignature } from "../packages/core/mod.ts";
import { startUnencryptedPeerForBenchmark } from "../packages/core/peer.ts";
import { plainCopy } from "./baseline.ts";
import { bulk } from "./child.ts";
import { rssMiB } from "./proc_stats.ts";
import {
  figure,
  header,
  markdownTable,
  median,
  quantile,
  type Row,
  writeResults,
} from "./report.ts";

const MIB = Number(Deno.env.get("BENCH_MIB") ?? 1024);
const rows: Row[] = [];
const child = (args: string[]) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./child.ts", import.meta.url).pathname, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();

async function firstLine(process: Deno.ChildProcess): Promise<Record<string, unknown>> {
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("child exited before it was ready");
    text += value;
  }
  reader.releaseLock();
  return JSON.parse(text.split("\n")[0]);
}

// 1. Frame encode and decode, on this thread.
function codecBench(label: string, message: unknown, count: number) {
  const frame = encodeFrame(message);
  let t0 = performance.now();
  for (let i = 0; i < count; i++) encodeFrame(message);
  const encodeMBs = (frame.length * count) / ((performance.now() - t0) / 1000) / 1e6;
  const stream = new Uint8Array(frame.length * 64);
  for (let i = 0; i < 64; i++) stream.set(frame, i * frame.length);
  const decoder = new FrameDecoder();
  t0 = performance.now();
  for (let i = 0; i < count / 64; i++) for (const body of decoder.push(stream)) decodeValue(body);
  const decodeMBs = (stream.length * (count / 64)) / ((performance.now() - t0) / 1000) / 1e6;
  rows.push(figure(`frame encode, ${label}`, "MB/s", [encodeMBs]));
  rows.push(figure(`frame decode, ${label}`, "MB/s", [decodeMBs]));
}
codecBench("200-byte chat message", {
  t: "app",
  app: "chat",
  body: { text: "x".repeat(170), hops: 3 },
}, 200_000);
codecBench(
  "64 KiB binary",
  { t: "app", app: "files", body: { data: new Uint8Array(65536) } },
  6400,
);

// 2. Bulk throughput: a plain Deno TCP copy vs two peers through the worker runtime.
// On tmpfs when there is one: the bench measures the runtime, not the disk's writeback.
const shm = await Deno.stat("/dev/shm").then((s) => s.isDirectory, () => false);
const dir = await Deno.makeTempDir({
  prefix: "meshtalk-bench-",
  dir: shm ? "/dev/shm" : undefined,
});
const sourcePath = `${dir}/source`;
{
  const file = await Deno.open(sourcePath, { write: true, create: true });
  const block = new Uint8Array(1 << 20);
  for (let at = 0; at < block.length; at += 65536) {
    crypto.getRandomValues(block.subarray(at, at + 65536));
  }
  for (let i = 0; i < MIB; i++) await file.write(block);
  file.close();
}

/** Disk to disk: the sending worker reads the file into its ring, the receiving one writes it out. */
async function runtimeFileCopy(
  pieceKiB: number,
  verify: boolean,
  out = `${dir}/copy`,
  plaintext = false,
): Promise<number> {
  // No byte rate limit: the unencrypted baseline runs past its 1 GiB/s default.
  const options = { host: "127.0.0.1", apps: [bulk], targetConnections: 0, maxBytesPerSecond: 0 };
  const peer = plaintext
    ? await startUnencryptedPeerForBenchmark(options)
    : await startPeer(options);
  if (verify) {
    // Hashed before the clock starts, as a downloader gets the hashes from a manifest.
    const pieceSize = pieceKiB * 1024;
    const hashes = await peer.app(bulk).hashPieces(sourcePath, pieceSize);
    await Deno.writeFile(out, new Uint8Array(0));
    await Deno.truncate(out, MIB * 2 ** 20);
    peer.app(bulk).receiveIntoFile("bench", out, {
      size: MIB * 2 ** 20,
      verify: { pieceSize, hashes },
    });
  } else {
    peer.app(bulk).receiveIntoFile("bench", out);
  }
  const sender = child([
    "peer-file-sender",
    String(peer.port),
    String(pieceKiB),
    sourcePath,
    ...(plaintext ? ["--plaintext"] : []),
  ]);
  const expected = MIB * 2 ** 20;
  let total = 0;
  let t0 = 0;
  const done = Promise.withResolvers<number>();
  peer.app(bulk).onMessage((_body, _from, stored) => {
    if (total === 0) t0 = performance.now();
    total += stored!.length;
    if (stored!.status !== "written") throw new Error(`piece not written: ${stored!.reason}`);
    if (total >= expected) done.resolve((performance.now() - t0) / 1000);
  });
  const seconds = await done.promise;
  await peer.close();
  sender.stdin.close();
  await sender.status;
  if (out !== "/dev/null") await Deno.remove(out);
  return (total - pieceKiB * 1024) / seconds / 2 ** 20;
}

async function runtimeCopy(chunkKiB: number): Promise<number> {
  const peer = await startPeer({ host: "127.0.0.1", apps: [bulk], targetConnections: 0 });
  const sender = child(["peer-sender", String(peer.port), String(MIB), String(chunkKiB)]);
  const expected = MIB * 2 ** 20;
  let total = 0;
  let t0 = 0;
  const done = Promise.withResolvers<number>();
  peer.app(bulk).onMessage((body) => {
    if (total === 0) t0 = performance.now();
    total += body.data.length;
    if (total >= expected) done.resolve((performance.now() - t0) / 1000);
  });
  const seconds = await done.promise;
  await peer.close();
  sender.stdin.close();
  await sender.status;
  return (total - chunkKiB * 1024) / seconds / 2 ** 20;
}

const plain: number[] = [];
const toNull: number[] = [];
const toNullPlain: number[] = [];
const fileCopy: number[] = [];
const fileCopyHashed: number[] = [];
const viaMain: number[] = [];
for (let i = 0; i < 3; i++) {
  plain.push(await plainCopy(MIB));
  toNull.push(await runtimeFileCopy(1024, false, "/dev/null"));
  toNullPlain.push(await runtimeFileCopy(1024, false, "/dev/null", true));
  fileCopy.push(await runtimeFileCopy(1024, false));
  fileCopyHashed.push(await runtimeFileCopy(1024, true));
  viaMain.push(await runtimeCopy(256));
}
const plainBaseline = { name: "plain copy", runs: plain };
rows.push(
  figure(`plain Deno TCP copy, memory to memory, ${MIB} MiB`, "MiB/s", plain),
  figure(
    "two peers through the workers, file to /dev/null, 1 MiB pieces, unencrypted (internal)",
    "MiB/s",
    toNullPlain,
    { baseline: plainBaseline, target: "ratio >= 0.5" },
  ),
  figure("the same, encrypted (AES-256-GCM, as every connection is)", "MiB/s", toNull, {
    baseline: plainBaseline,
  }),
  figure("encrypted / unencrypted, file to /dev/null (ratio of the medians)", "", [
    median(toNull) / median(toNullPlain),
  ], { target: ">= 0.8" }),
  figure("two peers, file to file through the workers, 1 MiB pieces", "MiB/s", fileCopy, {
    baseline: plainBaseline,
  }),
  figure(
    "the same, every piece verified (BLAKE3, hash workers) before it is written",
    "MiB/s",
    fileCopyHashed,
    { baseline: plainBaseline },
  ),
  figure("two peers, 256 KiB app messages from and to the main thread", "MiB/s", viaMain, {
    baseline: plainBaseline,
  }),
);

// 3. Ping round trips: main thread -> worker -> socket -> worker -> main thread, and back.
{
  const remote = child(["peer"]);
  const { port, id } = await firstLine(remote) as { port: number; id: string };
  const peer = await startPeer({ host: "127.0.0.1", targetConnections: 0 });
  await peer.connect("127.0.0.1", port);
  for (let i = 0; i < 200; i++) await peer.ping(id);
  const rtts: number[] = [];
  for (let i = 0; i < 3000; i++) rtts.push(await peer.ping(id));
  rtts.sort((a, b) => a - b);
  rows.push(
    figure("ping round trip p50, worker on both sides", "µs", [quantile(rtts, 0.5) * 1000], {
      target: "<= 300",
    }),
    figure("ping round trip p99, worker on both sides", "µs", [quantile(rtts, 0.99) * 1000]),
  );
  await peer.close();
  remote.stdin.close();
  await remote.status;
}

// 3b. Handshake: from our hello to the peer's auth opened and its signature checked, with the
// peer's worker started already (its hello has arrived). Connect, worker start included, apart.
{
  const remote = child(["peer"]);
  const { port } = await firstLine(remote) as { port: number };
  const handshakes: number[] = [];
  const connects: number[] = [];
  for (let i = 0; i < 120; i++) {
    const t0 = performance.now();
    const raw = await RawPeer.dial(port);
    await raw.next("hello");
    const t1 = performance.now();
    const auth = await raw.handshake();
    if (!(await verifySignature(auth.key as Uint8Array, auth.sig as Uint8Array, raw.signed()))) {
      throw new Error("the peer's auth does not verify");
    }
    const t2 = performance.now();
    if (i >= 20) { // the first ones warm up both sides
      handshakes.push(t2 - t1);
      connects.push(t2 - t0);
    }
    await raw.close();
  }
  rows.push(
    figure(
      "handshake p50, loopback: hello to verified auth (X25519, HKDF, Ed25519 both ways)",
      "ms",
      [median(handshakes)],
      { target: "<= 5" },
    ),
    figure(
      "connect p50, loopback: dial to verified auth, the peer's worker start included",
      "ms",
      [median(connects)],
    ),
  );
  remote.stdin.close();
  await remote.status;
}

// 4. Memory: RSS of one peer process holding 0, 1, 16 and 64 connections.
{
  const remote = child(["peer"]);
  const { port } = await firstLine(remote) as { port: number };
  const rss = async () => {
    await new Promise((r) => setTimeout(r, 500));
    return rssMiB(remote.pid);
  };
  const base = await rss();
  rows.push(figure("RSS of an idle peer process", "MiB", [base]));
  const raws: RawPeer[] = [];
  for (const target of [1, 16, 64]) {
    while (raws.length < target) {
      const raw = await RawPeer.dial(port);
      await raw.handshake();
      raws.push(raw);
    }
    const now = await rss();
    rows.push(
      figure(`RSS per connection, ${target} open`, "MiB", [(now - base) / target], {
        target: "<= 12",
      }),
    );
  }
  await Promise.all(raws.map((r) => r.close()));
  remote.stdin.close();
  await remote.status;
}

await Deno.remove(dir, { recursive: true });

// Report.
console.log(`\n${header("meshtalk core benchmark", `${MIB} MiB bulk copies, 3 rounds, median`)}\n`);
console.log(markdownTable(rows));
const out = await writeResults("core", { mib: MIB, rows });
console.log(`\nwritten to ${out}`);

// The files (share processes) and chat (10 peer processes) benchmarks run as processes of their
// own, each with its own table and JSON.
for (const part of ["files", "chat"]) {
  if (Deno.env.get(`BENCH_SKIP_${part.toUpperCase()}`) === "1") continue;
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`./${part}.ts`, import.meta.url).pathname],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (run.code !== 0) Deno.exit(run.code);
}
