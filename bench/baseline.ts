// The baseline every throughput figure is compared with: a plain Deno TCP copy, memory to memory,
// 1 MiB writes into one reused 1 MiB read buffer, between two processes.

/** Copies `mib` MiB from a child process over loopback TCP; returns MiB/s. */
export async function plainCopy(mib: number): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const writer = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./child.ts", import.meta.url).pathname,
      "plain-writer",
      String(listener.addr.port),
      String(mib),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const conn = await listener.accept();
  const buffer = new Uint8Array(1 << 20);
  let total = 0;
  const t0 = performance.now();
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) break;
    total += count;
  }
  const seconds = (performance.now() - t0) / 1000;
  conn.close();
  listener.close();
  writer.stdin.close();
  await writer.status;
  await writer.stdout.cancel();
  return total / seconds / 2 ** 20;
}
