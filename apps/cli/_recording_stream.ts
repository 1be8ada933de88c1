/**
 * Test support: a stand-in for `Deno.stdout` that keeps what is written to it.
 *
 * @module
 */
import type { OutputStream } from "./output.ts";

/**
 * A stream that records its text, and says it is a terminal or not, as told. A terminal is
 * written synchronously and a pipe asynchronously, as {@linkcode Output} does.
 *
 * @example
 * ```ts
 * import { RecordingStream } from "./_recording_stream.ts";
 * import { Output } from "./output.ts";
 * const stdout = new RecordingStream({ terminal: true });
 * new Output(false, { stdout }).line("hello");
 * console.log(stdout.text); // "hello\n"
 * ```
 */
export class RecordingStream implements OutputStream {
  /** Every write, in order. */
  readonly writes: string[] = [];
  readonly #terminal: boolean;
  readonly #decoder = new TextDecoder();
  #failing = false;

  /** A stream that is a terminal when `terminal` is true. */
  constructor(options: { terminal: boolean }) {
    this.#terminal = options.terminal;
  }

  /** All that was written, joined. */
  get text(): string {
    return this.writes.join("");
  }

  /** Makes later asynchronous writes fail, as when the reader of a pipe went away. */
  fail(): void {
    this.#failing = true;
  }

  /** As told to the constructor. */
  isTerminal(): boolean {
    return this.#terminal;
  }

  /** Records `bytes`, all of them. */
  writeSync(bytes: Uint8Array): number {
    this.writes.push(this.#decoder.decode(bytes));
    return bytes.length;
  }

  /** Records `bytes` a microtask later, or fails after {@linkcode RecordingStream.fail}. */
  async write(bytes: Uint8Array): Promise<number> {
    await Promise.resolve();
    if (this.#failing) throw new Deno.errors.BrokenPipe("the reader went away");
    return this.writeSync(bytes);
  }
}
