// Helper of the tests that check a closed peer or discovery let go of every socket: Deno's test
// sanitizers do not see the sockets of node:dgram, so the test counts this process's own. (Deno
// lets only --allow-all read /proc/<its pid>; a child process may, with --allow-run.)

/** How many sockets this process holds open (Linux: its file descriptors that are sockets). */
export async function openSockets(): Promise<number> {
  // A descriptor closed while find lists them makes it fail, having listed the rest.
  const { stdout } = await new Deno.Command("find", {
    args: [`/proc/${Deno.pid}/fd`, "-lname", "socket:*"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((line) => line !== "").length;
}

/** Resolves once this process holds `count` sockets; rejects after `timeoutMs`. */
export async function untilOpenSockets(count: number, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let open: number;
  while ((open = await openSockets()) !== count) {
    if (performance.now() > deadline) {
      throw new Error(`${open} sockets still open after ${timeoutMs} ms; ${count} expected`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
