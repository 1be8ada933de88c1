import assert from "node:assert/strict";
import { Command } from "./command.ts";
import { addDiscoveryOptions, discoverySettings } from "./discovery_options.ts";
import { runCommand } from "./options.ts";

/** Parses `args` with the discovery options; the exit code and the options, or what was printed. */
async function parse(args: string[]) {
  const printed: string[] = [];
  const program = addDiscoveryOptions(new Command("demo")).configureOutput({
    writeOut: (text) => printed.push(text),
    outputError: (text) => printed.push(text),
  });
  let options: unknown;
  const code = await runCommand(program, args, () => program.opts(), (opts) => {
    options = opts;
    return Promise.resolve(0);
  });
  return { code, options, printed: printed.join("") };
}

Deno.test("discovery is on by default, in the room for everyone", async () => {
  const { code, options } = await parse([]);
  assert.equal(code, 0);
  assert.deepEqual(options, { discovery: true });
  assert.deepEqual(discoverySettings({ discovery: true }), {});
});

Deno.test("--room names the room; --no-discovery turns discovery off", async () => {
  assert.deepEqual((await parse(["--room", "friends"])).options, {
    discovery: true,
    room: "friends",
  });
  assert.deepEqual(discoverySettings({ discovery: true, room: "friends" }), { room: "friends" });
  assert.deepEqual((await parse(["--no-discovery"])).options, { discovery: false });
  assert.equal(discoverySettings({ discovery: false }), false);
});

Deno.test("a room with discovery off, or an empty or overlong room, is a usage error", async () => {
  const both = await parse(["--room", "friends", "--no-discovery"]);
  assert.equal(both.code, 2);
  assert.match(both.printed, /'--room <name>' cannot be used with option '--no-discovery'/);
  for (const room of ["", "x".repeat(101)]) {
    const bad = await parse(["--room", room]);
    assert.equal(bad.code, 2);
    assert.match(bad.printed, /a room name has 1 to 100 characters, got \d+/);
  }
  assert.equal((await parse(["--room", "x".repeat(100)])).code, 0);
});

Deno.test("--help tells of both options", async () => {
  const { code, printed } = await parse(["--help"]);
  assert.equal(code, 0);
  assert.match(printed, /--room <name>\s+find only the peers on this LAN that name the same room/);
  assert.match(printed, /--no-discovery\s+neither announce this peer on the LAN/);
});
