// Runs meshtalk commands as real processes and reads their --json events.
const root = new URL("../", import.meta.url).pathname;

export type Event = Record<string, unknown> & { event: string };

/** A meshtalk command running as its own process, with its JSON events collected. */
export class MeshProcess {
  readonly events: Event[] = [];
  /** Every line on stdout, events included. */
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pumps: Promise<void>[];
  #waiters = new Set<() => void>();

  constructor(script: string, args: string[], options: RunOptions = {}) {
    this.#child = denoRun(script, args, { ...options, stdin: "piped" }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#pumps = [
      this.#lines(this.#child.stdout, (line) => {
        this.stdout.push(line);
        if (line.startsWith("{")) this.events.push(JSON.parse(line));
      }),
      this.#lines(this.#child.stderr, (line) => this.stderr.push(line)),
    ];
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Resolves with the first event matching `match`, waiting up to `timeoutMs`. */
  waitFor(match: (event: Event) => boolean, what: string, timeoutMs = 15_000): Promise<Event> {
    return this.#until(() => this.events.find(match), what, timeoutMs);
  }

  /** Resolves with the first line on stdout matching `pattern`, waiting up to `timeoutMs`. */
  waitForStdout(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    return this.#until(
      () => this.stdout.find((line) => pattern.test(line)),
      `a line on stdout matching ${pattern}`,
      timeoutMs,
    );
  }

  /** Resolves with the first line on stderr matching `pattern`, waiting up to `timeoutMs`. */
  waitForStderr(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    return this.#until(
      () => this.stderr.find((line) => pattern.test(line)),
      `a line on stderr matching ${pattern}`,
      timeoutMs,
    );
  }

  /** Resolves with what `find` finds, trying again as output comes; rejects after `timeoutMs`. */
  async #until<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; events: ${JSON.stringify(this.events)}; stderr: ${
            this.stderr.join("\n")
          }`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#waiters.delete(wake);
          resolve();
        }, 50);
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
      });
    }
  }

  async type(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  /**
   * Waits for the process to exit by itself; resolves with its exit code. After `timeoutMs` it is
   * killed and this rejects, with what it printed: a test fails rather than hangs.
   */
  async exited(timeoutMs = 90_000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), timeoutMs)
    );
    const outcome = await Promise.race([this.#child.status, late]);
    clearTimeout(timer);
    if (outcome === "late") {
      await this.kill("SIGKILL");
      throw new Error(
        `the process did not exit within ${timeoutMs} ms; events: ${
          JSON.stringify(this.events.slice(-5))
        }; stderr: ${this.stderr.join("\n")}`,
      );
    }
    const status = outcome;
    await this.#stdin.close().catch(() => {});
    await Promise.all(this.#pumps);
    return status.code;
  }

  /** Closes stdin (EOF) and waits for the exit code. */
  async end(): Promise<number> {
    await this.#stdin.close().catch(() => {});
    const status = await this.#child.status;
    await Promise.all(this.#pumps);
    return status.code;
  }

  /** Kills the process with `signal` and waits for it; resolves with its exit code. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<number> {
    try {
      this.#child.kill(signal);
    } catch {
      // it has exited already
    }
    await this.#stdin.close().catch(() => {});
    const status = await this.#child.status;
    await Promise.all(this.#pumps);
    return status.code;
  }

  async #lines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
    let pending = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
      for (const wake of [...this.#waiters]) wake();
    }
    if (pending) onLine(pending);
  }
}

/** Runs a meshtalk command to its end with stdin closed; its exit code and output. */
export async function runToEnd(
  script: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await denoRun(script, args, { ...options, stdin: "null" }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** How a command runs: where, and with which permissions (default all, `-A`). */
export interface RunOptions {
  /** Working directory. */
  cwd?: string;
  /** Deno's permission flags, instead of `-A`. */
  permissions?: string[];
  /** More environment variables. */
  env?: Record<string, string>;
  /** A program to run with the args instead of `deno run <script>` (an installed command). */
  executable?: string;
  /**
   * LAN discovery as the command has it by default (true), or off (false, the default here:
   * `--no-discovery` is added, so that a test's peers meet only whom the test introduces and
   * announce nothing on the machine's network).
   */
  discovery?: boolean;
  /** The network namespace to run in (see `_hosts.ts`); default this process's. */
  namespace?: string;
}

/**
 * `deno run -A <script> ...args --no-discovery`, the script under the project's root, output
 * piped, no colour.
 */
function denoRun(
  script: string,
  args: string[],
  options: RunOptions & { stdin: "piped" | "null" },
): Deno.Command {
  // An installed command takes the same arguments, without `run` and the script.
  const command = options.executable
    ? [...args]
    : ["run", ...(options.permissions ?? ["-A"]), `${root}${script}`, ...args];
  const run = [...command, ...(options.discovery ? [] : ["--no-discovery"])];
  const program = options.executable ?? Deno.execPath();
  const inNamespace = options.namespace ? ["netns", "exec", options.namespace, program] : [];
  return new Deno.Command(options.namespace ? "ip" : program, {
    args: [...inNamespace, ...run],
    cwd: options.cwd,
    stdin: options.stdin,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  });
}
