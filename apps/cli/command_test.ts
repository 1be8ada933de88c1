import assert from "node:assert/strict";
import { Command, CommandExit, InvalidArgumentError, Option } from "./command.ts";

/** A command like the CLI's, its output kept. */
function demo(out: string[]) {
  return new Command("demo")
    .description("a demo")
    .argument("<port>", "a port", (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`not a port: "${v}"`);
      return Number(v);
    })
    .argument("[host]", "a host")
    .option("--peer <host:port>", "a peer", (v, all: string[]) => [...all, v], [])
    .option("--nick <name>", "a nickname")
    .option("--json", "JSON", false)
    .option("--no-input", "read nothing")
    .addOption(new Option("--room <name>", "a room").conflicts("discovery"))
    .option("--no-discovery", "no discovery")
    .addHelpText("after", "\nmore words")
    .configureOutput({ writeOut: (t) => out.push(t), outputError: (t) => out.push(t) });
}

function fails(args: string[], message: string): void {
  const out: string[] = [];
  assert.throws(
    () => demo(out).parse(args),
    (error) => error instanceof CommandExit && error.exitCode === 1,
    args.join(" "),
  );
  assert.deepEqual(out, [`error: ${message}\n`], args.join(" "));
}

Deno.test("arguments and options are read, parsed, defaulted; --no-x is a switch on by default", () => {
  const program = demo([]).parse([
    "9000",
    "h",
    "--peer",
    "a:1",
    "--peer=b:2",
    "--json",
    "--no-input",
  ]);
  assert.deepEqual(program.processedArgs, [9000, "h"]);
  assert.deepEqual(program.args, ["9000", "h"]);
  assert.deepEqual(program.opts(), {
    peer: ["a:1", "b:2"],
    json: true,
    input: false,
    discovery: true,
  });
  assert.deepEqual(demo([]).parse(["1", "--", "--not-an-option"]).args, ["1", "--not-an-option"]);
});

Deno.test("mistakes are said in one line, as commander said them", () => {
  fails([], "missing required argument 'port'");
  fails(["x"], `command-argument value 'x' is invalid for argument 'port'. not a port: "x"`);
  fails(["1", "--bogus"], "unknown option '--bogus'");
  fails(["1", "--nick"], "option '--nick <name>' argument missing");
  fails(["1", "h", "extra"], "too many arguments. Expected 2 arguments but got 3.");
  fails(
    ["1", "--room", "r", "--no-discovery"],
    "option '--room <name>' cannot be used with option '--no-discovery'",
  );
});

Deno.test("a parser's other errors pass through; --help writes the help and exits 0", () => {
  const strict = new Command("x").option("--n <n>", "n", () => {
    throw new RangeError("mine");
  });
  assert.throws(() => strict.parse(["--n", "1"]), RangeError);
  const out: string[] = [];
  assert.throws(
    () => demo(out).parse(["--help"]),
    (e) => e instanceof CommandExit && e.exitCode === 0,
  );
  const help = out.join("");
  assert.ok(
    help.startsWith(
      "Usage: demo [options] <port> [host]\n\na demo\n\nArguments:\n  port  a port\n",
    ),
    help,
  );
  assert.ok(help.includes("\n  --peer <host:port>  a peer (default: [])\n"), help);
  assert.ok(help.includes("\n  --no-input          read nothing\n"), help);
  assert.ok(
    help.endsWith("\n  -h, --help          display help for command\n\nmore words\n"),
    help,
  );
});
