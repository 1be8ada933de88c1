import assert from "node:assert/strict";
import { RecordingStream } from "./_recording_stream.ts";
import { Output } from "./output.ts";

/** An Output over recording streams; stdout a terminal or a pipe, stderr a pipe. */
function recorded(json: boolean, terminal = false) {
  const stdout = new RecordingStream({ terminal });
  const stderr = new RecordingStream({ terminal: false });
  return { out: new Output(json, { stdout, stderr }), stdout, stderr };
}

/** Runs `body` with NO_COLOR set to `value` (undefined: unset), then restores it. */
function withNoColor<T>(value: string | undefined, body: () => T): T {
  const saved = Deno.env.get("NO_COLOR");
  const set = (v: string | undefined) =>
    v === undefined ? Deno.env.delete("NO_COLOR") : Deno.env.set("NO_COLOR", v);
  set(value);
  try {
    return body();
  } finally {
    set(saved);
  }
}

Deno.test("for people: lines on stdout, errors on stderr, no JSON events", async () => {
  const { out, stdout, stderr } = recorded(false);
  out.line("hello");
  out.event("ready", { port: 1 });
  out.error("chat: oops");
  await out.flushed();
  assert.equal(stdout.text, "hello\n");
  assert.equal(stderr.text, "chat: oops\n");
});

Deno.test("--json: one event a line on stdout; lines for people and errors on stderr", async () => {
  const { out, stdout, stderr } = recorded(true);
  out.event("ready", { port: 9000, id: "ab" });
  out.line("meshtalk chat on port 9000");
  out.error("chat: oops");
  await out.flushed();
  assert.deepEqual(stdout.text.trimEnd().split("\n").map((line) => JSON.parse(line)), [
    { event: "ready", port: 9000, id: "ab" },
    { event: "error", message: "chat: oops" },
  ]);
  assert.equal(stderr.text, "meshtalk chat on port 9000\nchat: oops\n");
});

Deno.test("colour only on a terminal, not in JSON mode, and not with NO_COLOR", () => {
  withNoColor(undefined, () => {
    const { out, stdout } = recorded(false, true);
    assert.equal(out.terminal, true);
    assert.equal(out.color, true);
    assert.equal(out.paint("1", "bold"), "\x1b[1mbold\x1b[0m");
    out.line(out.paint("2", "dim"));
    assert.equal(stdout.text, "\x1b[2mdim\x1b[0m\n");
    assert.equal(recorded(false, false).out.color, false, "a pipe");
    assert.equal(recorded(true, true).out.color, false, "JSON mode");
    assert.equal(recorded(true, true).out.terminal, false, "JSON mode draws nothing");
  });
  withNoColor("1", () => {
    const { out } = recorded(false, true);
    assert.equal(out.color, false);
    assert.equal(out.paint("1", "plain"), "plain");
  });
});

Deno.test("a terminal is written at once; what is below is erased bottom up and drawn top down around each write", () => {
  const { out, stdout } = recorded(false, true);
  const calls: string[] = [];
  const part = (name: string) => ({
    erase: () => calls.push(`erase ${name}`),
    draw: () => calls.push(`draw ${name}`),
  });
  out.below(part("bars"));
  const stopPrompt = out.below(part("prompt"));
  out.line("one");
  assert.deepEqual(stdout.writes, ["one\n"], "written synchronously");
  out.draw("[bar]\n");
  assert.deepEqual(stdout.writes, ["one\n", "[bar]\n"]);
  assert.deepEqual(calls, ["erase prompt", "erase bars", "draw bars", "draw prompt"]);
  calls.length = 0;
  stopPrompt();
  out.redraw();
  assert.deepEqual(calls, ["erase bars", "draw bars"]);
});

Deno.test("a pipe is written in the background, in order, and flushed() waits for it", async () => {
  const { out, stdout } = recorded(false);
  for (let i = 0; i < 100; i++) out.line(`line ${i}`);
  await out.flushed();
  const expected = Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join("");
  assert.equal(stdout.text, expected);
  assert.ok(stdout.writes.length < 100, "lines waiting together are written together");
});

Deno.test("a pipe whose reader went away ends that output, not the program", async () => {
  const { out, stdout } = recorded(false);
  stdout.fail();
  out.line("lost");
  await out.flushed();
  out.line("lost too");
  await out.flushed();
  assert.equal(stdout.text, "");
});
