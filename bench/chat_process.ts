// One chat peer process (`apps/cli/chat.ts --json`) driven by a benchmark: its stdin, its stdout
// and stderr read continuously, and the waits that fail with a clear error instead of hanging.
import type { ChatStats } from "../packages/chat/mod.ts";

const chatScript = new URL("../apps/cli/chat.ts", import.meta.url).pathname;

/** The counters of a peer's `stats` event that the benchmark reads. */
export type Stats = Pick<
  ChatStats,
  "sent" | "delivered" | "received" | "duplicates" | "relayed" | "framesSent"
>;

/** Receives the `message` lines of one process: the raw line and when the driver read it. */
export type MessageSink = (line: string, at: number) => void;

/** How to start a chat peer process. */
export interface ChatProcessOptions {
  /** Its place in the topology; its nickname is `p<index>`. */
  index: number;
  dataDir: string;
  /** Ports of the peers it dials at start (with `--connections 0` it dials no other). */
  dials: number[];
  /** V8 flags, comma-separated (`deno task chat` runs with its own: pass them to measure it). */
  v8Flags: string;
  /** `--lines-per-say`; the command's default if not given. */
  linesPerSay?: number;
}

/**
 * Wall-clock milliseconds with sub-millisecond precision, comparable across processes (a
 * latency line carries its send time).
 *
 * @example
 * ```ts
 * import { now } from "./chat_process.ts";
 * console.log(Math.abs(now() - Date.now()) < 1000); // true
 * ```
 */
export const now = (): number => performance.timeOrigin + performance.now();

/**
 * Resolves after `ms` milliseconds.
 *
 * @example
 * ```ts
 * import { sleep } from "./chat_process.ts";
 * await sleep(1);
 * ```
 */
export const sleep = (ms: number): Promise<void> =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One chat peer process on loopback with `--json --connections 0`: its stdin, and its stdout
 * and stderr read continuously. `onMessage` gets every `message` line raw (parsing thousands a
 * second would cost the benchmark's own process more than the peers); other events update its
 * fields, and errors and disconnections land in `problems`.
 *
 * @example
 * ```ts ignore
 * import { ChatProcess } from "./chat_process.ts";
 * const peer = new ChatProcess({ index: 0, dataDir: "/tmp/p0", dials: [], v8Flags: "" });
 * await peer.end(10_000);
 * ```
 */
export class ChatProcess {
  readonly index: number;
  readonly nick: string;
  readonly child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pumps: Promise<void>[];
  port = 0;
  id = "";
  connected = 0;
  stats: Stats | null = null;
  exited = false;
  /** Problems seen on stdout: errors, disconnections, bad lines. */
  readonly problems: string[] = [];
  readonly stderrTail: string[] = [];
  onMessage: MessageSink | null = null;

  constructor(options: ChatProcessOptions) {
    const { index, dataDir, dials } = options;
    this.index = index;
    this.nick = `p${index}`;
    const args = [
      "run",
      "-A",
      ...(options.v8Flags ? [`--v8-flags=${options.v8Flags}`] : []),
      chatScript,
      "0",
      "--host",
      "127.0.0.1",
      "--json",
      "--connections",
      "0",
      "--no-discovery", // the topology is the benchmark's, not the LAN's
      "--data-dir",
      dataDir,
      "--nick",
      this.nick,
      ...(options.linesPerSay ? ["--lines-per-say", String(options.linesPerSay)] : []),
      ...dials.flatMap((port) => ["--peer", `127.0.0.1:${port}`]),
    ];
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.child.status.then(() => this.exited = true);
    this.#stdin = this.child.stdin.getWriter();
    this.#pumps = [
      this.#lines(this.child.stdout, (line, at) => this.#onStdout(line, at)),
      this.#lines(this.child.stderr, (line) => {
        this.stderrTail.push(line);
        if (this.stderrTail.length > 20) this.stderrTail.shift();
      }),
    ];
  }

  get pid(): number {
    return this.child.pid;
  }

  /** What to add to an error about this process. */
  describe(): string {
    const problems = this.problems.slice(-5).join("; ");
    return `${this.nick} (pid ${this.pid}${this.exited ? ", exited" : ""})` +
      (problems ? `; problems: ${problems}` : "") +
      (this.stderrTail.length ? `; stderr: ${this.stderrTail.slice(-5).join(" | ")}` : "");
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.#stdin.write(bytes);
  }

  /** Closes stdin (a clean exit for the chat command) and waits for the exit code. */
  async end(timeoutMs: number): Promise<number> {
    await this.#stdin.close().catch(() => {});
    const status = await withTimeout(
      this.child.status,
      timeoutMs,
      () => `${this.nick} to exit after stdin closed; ${this.describe()}`,
    );
    await withTimeout(Promise.all(this.#pumps), 2000, () => `${this.nick}'s output to end`);
    return status.code;
  }

  /** Kills the process if it still runs and waits for it. */
  async kill(): Promise<void> {
    if (!this.exited) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // gone already
      }
    }
    await this.#stdin.close().catch(() => {});
    await this.child.status;
    await Promise.race([Promise.all(this.#pumps), sleep(2000)]);
  }

  #onStdout(line: string, at: number): void {
    if (line.startsWith('{"event":"message"')) {
      // A sink that throws (a line shown twice) must not stop this stream's reading: it is a
      // problem, which fails the run that waits on this peer.
      try {
        this.onMessage?.(line, at);
      } catch (error) {
        this.problems.push(error instanceof Error ? error.message : String(error));
      }
      return;
    }
    if (!line.startsWith("{")) return;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line);
    } catch {
      this.problems.push(`unparsable line ${line.slice(0, 120)}`);
      return;
    }
    switch (event.event) {
      case "ready":
        this.port = event.port as number;
        this.id = event.id as string;
        break;
      case "peer-connected":
        this.connected++;
        break;
      case "peer-disconnected":
        this.connected--;
        this.problems.push(`peer-disconnected ${event.nick}: ${event.reason}`);
        break;
      case "error":
        this.problems.push(`error: ${event.message}`);
        break;
      case "stats":
        this.stats = event as unknown as Stats;
        break;
    }
  }

  async #lines(
    stream: ReadableStream<Uint8Array>,
    onLine: (line: string, at: number) => void,
  ): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    try {
      for await (const chunk of stream) {
        const at = now();
        pending += decoder.decode(chunk, { stream: true });
        let start = 0;
        let newline: number;
        while ((newline = pending.indexOf("\n", start)) >= 0) {
          onLine(pending.slice(start, newline), at);
          start = newline + 1;
        }
        pending = pending.slice(start);
      }
    } catch {
      // the process was killed
    }
    if (pending) onLine(pending, now());
  }
}

/**
 * `promise`, or an error naming `what()` if it takes more than `ms`.
 *
 * @example
 * ```ts
 * import { withTimeout } from "./chat_process.ts";
 * console.log(await withTimeout(Promise.resolve(1), 100, () => "one")); // 1
 * ```
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: () => string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms waiting for ${what()}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `done` every 10 ms; fails with `what()` after `ms`, or at once if `broken()` says why.
 *
 * @example
 * ```ts
 * import { waitUntil } from "./chat_process.ts";
 * const start = Date.now();
 * await waitUntil(() => Date.now() - start > 20, 1000, () => "20 ms to pass");
 * ```
 */
export async function waitUntil(
  done: () => boolean,
  ms: number,
  what: () => string,
  broken: () => string | null = () => null,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    const why = broken();
    if (why) throw new Error(`while waiting for ${what()}: ${why}`);
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    }
    await sleep(10);
  }
}
