/**
 * Reading a command line: the arguments and options a command declares, checked and parsed, its
 * `--help`, and errors worded for people (`error: unknown option '--bogus'`). A small reader of our
 * own, shaped like the part of `commander` these commands used: that package pulled Node's `fs`,
 * `child_process` and `events` into every peer, ~5 MiB of memory for reading a few words.
 *
 * @module
 */

/**
 * A value a parser cannot take; its message says why. The command reports it with the option or
 * argument it was given for.
 *
 * @example
 * ```ts
 * import { InvalidArgumentError } from "./command.ts";
 * const error = new InvalidArgumentError("must be a number");
 * console.log(error.name); // "InvalidArgumentError"
 * ```
 */
export class InvalidArgumentError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "InvalidArgumentError";
  }
}

/**
 * The command line was read to its end early: `--help` (exit code 0) or a mistake, already said
 * (exit code 1).
 */
export class CommandExit extends Error {
  /** 0 after `--help`, 1 after a mistake. */
  readonly exitCode: number;
  /** Builds the exit. */
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = "CommandExit";
    this.exitCode = exitCode;
  }
}

/**
 * Turns the text given for an option or argument into its value (`previous`: its value so far, as
 * the parser itself or the default made it, so each parser types it as it knows it).
 */
export type Parser = (value: string, previous: never) => unknown;

/** A parser called with what this reader holds: its type is the parser's own business. */
const call = (parser: Parser, value: string, previous: unknown) =>
  (parser as (value: string, previous: unknown) => unknown)(value, previous);

/** Where a command writes its help and its errors. */
export interface CommandOutput {
  writeOut?: (text: string) => void;
  writeErr?: (text: string) => void;
  outputError?: (text: string) => void;
}

/**
 * One option: its flags (`--name`, `--name <value>`, or `--no-name` for a switch that is on by
 * default), what it is for, and optionally a default, a parser and an option it excludes.
 *
 * @example
 * ```ts
 * import { Option } from "./command.ts";
 * const option = new Option("--connections <n>", "neighbours to keep").default(4).argParser(Number);
 * console.log(option.key, option.takesValue); // "connections" true
 * ```
 */
export class Option {
  readonly flags: string;
  readonly description: string;
  /** The name the option's value has in `opts()`: the long name in camel case, without `no-`. */
  readonly key: string;
  readonly takesValue: boolean;
  readonly negated: boolean;
  defaultValue: unknown;
  parser: Parser | undefined;
  conflictsWith: string[] = [];

  /** An option of `flags` (e.g. `--port <port>`), described by `description`. */
  constructor(flags: string, description: string) {
    this.flags = flags;
    this.description = description;
    const long = /^--([a-z0-9-]+)/.exec(flags)?.[1];
    if (!long) throw new TypeError(`an option needs a --long name: "${flags}"`);
    this.negated = long.startsWith("no-");
    this.key = (this.negated ? long.slice(3) : long).replace(
      /-([a-z0-9])/g,
      (_, c) => c.toUpperCase(),
    );
    this.takesValue = /<[^>]+>/.test(flags);
    this.defaultValue = this.negated ? true : undefined;
  }

  /** The option's value when it is not given. */
  default(value: unknown): this {
    this.defaultValue = value;
    return this;
  }

  /** How the text given is made the option's value. */
  argParser(parser: Parser): this {
    this.parser = parser;
    return this;
  }

  /** Options (by key) that cannot be given with this one. */
  conflicts(key: string): this {
    this.conflictsWith.push(key);
    return this;
  }

  /** The long flag: `--port`, `--no-input`. */
  get long(): string {
    return this.flags.split(/\s/)[0];
  }
}

interface Argument {
  name: string;
  required: boolean;
  description: string;
  parser?: Parser;
}

/**
 * A command: its arguments and options, read from a command line by {@linkcode Command.parse}.
 *
 * @example
 * ```ts
 * import { Command } from "./command.ts";
 * const program = new Command("demo")
 *   .argument("<port>", "a port", Number)
 *   .option("--peer <host:port>", "a peer (repeatable)", (v, all) => [...(all as string[]), v], [])
 *   .option("--no-input", "read nothing");
 * program.parse(["9000", "--peer", "a:1", "--peer", "b:2", "--no-input"]);
 * console.log(program.processedArgs, program.opts()); // [9000] { peer: ["a:1", "b:2"], input: false }
 * ```
 */
export class Command {
  readonly #name: string;
  #description = "";
  readonly #arguments: Argument[] = [];
  readonly #options: Option[] = [];
  #after = "";
  #output: CommandOutput = {};
  #values: Record<string, unknown> = {};
  /** The arguments given, as given. */
  args: string[] = [];
  /** The arguments given, parsed. */
  processedArgs: unknown[] = [];

  /** A command called `name` in its help and errors. */
  constructor(name: string) {
    this.#name = name;
  }

  /** Its name. */
  name(): string {
    return this.#name;
  }

  /** What it does, for its help. */
  description(text: string): this {
    this.#description = text;
    return this;
  }

  /** An argument: `<name>` (required) or `[name]` (optional), in the order given. */
  argument(spec: string, description: string, parser?: Parser): this {
    this.#arguments.push({
      name: spec.slice(1, -1),
      required: spec.startsWith("<"),
      description,
      parser,
    });
    return this;
  }

  /** An option, with a parser of what is given and a default (see {@linkcode Option}). */
  option(flags: string, description: string, parser: Parser, defaultValue?: unknown): this;
  /** An option, with a default. */
  option(flags: string, description: string, defaultValue?: unknown): this;
  option(
    flags: string,
    description: string,
    parserOrDefault?: unknown,
    defaultValue?: unknown,
  ): this {
    const option = new Option(flags, description);
    if (typeof parserOrDefault === "function") {
      option.argParser(parserOrDefault as Parser);
      if (defaultValue !== undefined) option.default(defaultValue);
    } else if (parserOrDefault !== undefined) {
      option.default(parserOrDefault);
    }
    return this.addOption(option);
  }

  /** An option made with {@linkcode Option}. */
  addOption(option: Option): this {
    this.#options.push(option);
    return this;
  }

  /** Text shown after the options in the help. */
  addHelpText(_where: "after", text: string): this {
    this.#after += text;
    return this;
  }

  /** Kept for commander's shape: this reader always throws {@linkcode CommandExit}, never exits. */
  exitOverride(): this {
    return this;
  }

  /** Where the help and the errors go (default: stdout and stderr). */
  configureOutput(output: CommandOutput): this {
    this.#output = { ...this.#output, ...output };
    return this;
  }

  /** The usage after the name: `[options] <port> [peer-host]`. */
  usage(): string {
    const args = this.#arguments.map((a) => a.required ? `<${a.name}>` : `[${a.name}]`);
    return ["[options]", ...args].join(" ");
  }

  /** The options read, by key (defaults included). */
  opts<T = Record<string, unknown>>(): T {
    return { ...this.#values } as T;
  }

  /**
   * Reads `args` (the words after the command's name). Throws {@linkcode CommandExit} after
   * writing the help (`--help`, `-h`) or what is wrong; a parser's other errors pass through.
   */
  parse(args: string[], _options?: { from: "user" }): this {
    const values: Record<string, unknown> = {};
    const given = new Set<Option>();
    for (const option of this.#options) {
      if (option.defaultValue !== undefined && !(option.key in values)) {
        values[option.key] = option.defaultValue;
      }
    }
    const positional: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg === "--") {
        positional.push(...args.slice(i + 1));
        break;
      }
      if (arg === "-h" || arg === "--help") {
        this.#write(this.#output.writeOut, this.helpText());
        throw new CommandExit(0, "(help shown)");
      }
      if (!arg.startsWith("-") || arg === "-") {
        positional.push(arg);
        continue;
      }
      const [flag, inline] = arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined];
      const option = this.#options.find((o) => o.long === flag);
      if (!option) this.#fail(`unknown option '${flag}'`);
      given.add(option);
      if (!option.takesValue) {
        values[option.key] = !option.negated;
        continue;
      }
      const value = inline ?? args[++i];
      if (value === undefined) this.#fail(`option '${option.flags}' argument missing`);
      values[option.key] = option.parser
        ? this.#parsed(
          () => call(option.parser!, value, values[option.key]),
          `option '${option.flags}' argument '${value}' is invalid.`,
        )
        : value;
    }
    for (const option of given) {
      for (const key of option.conflictsWith) {
        const other = [...given].find((o) => o.key === key);
        if (other) {
          this.#fail(`option '${option.flags}' cannot be used with option '${other.flags}'`);
        }
      }
    }
    const declared = this.#arguments;
    const missing = declared.find((a, i) => a.required && positional[i] === undefined);
    if (missing) this.#fail(`missing required argument '${missing.name}'`);
    if (positional.length > declared.length) {
      this.#fail(
        `too many arguments. Expected ${declared.length} argument${
          declared.length === 1 ? "" : "s"
        } but got ${positional.length}.`,
      );
    }
    this.args = positional;
    this.processedArgs = declared.map((a, i) => {
      const value = positional[i];
      if (value === undefined || !a.parser) return value;
      return this.#parsed(
        () => call(a.parser!, value, undefined),
        `command-argument value '${value}' is invalid for argument '${a.name}'.`,
      );
    });
    this.#values = values;
    return this;
  }

  /** The help: usage, description, arguments, options, and the text added after. */
  helpText(): string {
    const rows = (items: [string, string][]) => {
      const width = Math.max(...items.map(([left]) => left.length));
      return items.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd()).join("\n");
    };
    const shown = (option: Option) => {
      const value = option.defaultValue;
      const hidden = value === undefined || option.negated || value === false;
      return option.description + (hidden ? "" : ` (default: ${JSON.stringify(value)})`);
    };
    const parts = [`Usage: ${this.#name} ${this.usage()}`];
    if (this.#description) parts.push(this.#description);
    if (this.#arguments.length > 0) {
      parts.push(`Arguments:\n${rows(this.#arguments.map((a) => [a.name, a.description]))}`);
    }
    const options: [string, string][] = this.#options.map((o) => [o.flags, shown(o)]);
    parts.push(`Options:\n${rows([...options, ["-h, --help", "display help for command"]])}`);
    return parts.join("\n\n") + "\n" + this.#after + (this.#after ? "\n" : "");
  }

  #parsed(parse: () => unknown, what: string): unknown {
    try {
      return parse();
    } catch (error) {
      if (error instanceof InvalidArgumentError) this.#fail(`${what} ${error.message}`);
      throw error;
    }
  }

  #fail(message: string): never {
    const text = `error: ${message}\n`;
    if (this.#output.outputError) this.#output.outputError(text);
    else {this.#write(
        this.#output.writeErr ?? ((t) => Deno.stderr.writeSync(new TextEncoder().encode(t))),
        text,
      );}
    throw new CommandExit(1, message);
  }

  #write(write: ((text: string) => void) | undefined, text: string): void {
    (write ?? ((t: string) => Deno.stdout.writeSync(new TextEncoder().encode(t))))(text);
  }
}
