import assert from "node:assert/strict";
import type { FileStatus } from "@meshtalk/files";
import { RecordingStream } from "./_recording_stream.ts";
import { Output } from "./output.ts";
import { describeProgress, ProgressBars } from "./progress.ts";

const MiB = 2 ** 20;

function status(fields: Partial<FileStatus> = {}): FileStatus {
  return {
    name: "big.bin",
    root: "aa".repeat(32),
    size: 24 * MiB,
    pieces: 24,
    have: 6,
    bytes: 6 * MiB,
    state: "downloading",
    path: null,
    sources: 1,
    rate: 2 * MiB,
    ...fields,
  };
}

/** Progress bars over a recording stdout: a terminal, a pipe, or a pipe in JSON mode. */
function bars(mode: "terminal" | "pipe" | "json", now = () => 0) {
  const stdout = new RecordingStream({ terminal: mode === "terminal" });
  const stderr = new RecordingStream({ terminal: false });
  const out = new Output(mode === "json", { stdout, stderr });
  return { bars: new ProgressBars(out, { now }), out, stdout, stderr };
}

const UP_AND_CLEAR = (rows: number) => `\r\x1b[${rows}A\x1b[0J`;

Deno.test("describeProgress: percent, bytes, rate, peers and time left", () => {
  assert.equal(
    describeProgress(status()),
    "big.bin: 25% (6.0 MiB of 24.0 MiB) 2.0 MiB/s from 1 peer, ETA 9 s",
  );
  assert.equal(
    describeProgress(status({ rate: 0, sources: 3, bytes: 0 })),
    "big.bin: 0% (0 B of 24.0 MiB) 0 B/s from 3 peers, ETA ?",
  );
  assert.equal(
    describeProgress(status({ size: 0, bytes: 0 })).split(": ")[1].split(" ")[0],
    "100%",
  );
});

Deno.test("on a terminal: a bar a file, redrawn in place at each update", () => {
  const { bars: progress, stdout } = bars("terminal");
  progress.update(status());
  const first = `[######------------------] ${describeProgress(status())}\n`;
  assert.deepEqual(stdout.writes, [first]);

  const later = status({ bytes: 12 * MiB, have: 12 });
  progress.update(later);
  assert.deepEqual(stdout.writes.slice(1), [
    UP_AND_CLEAR(1),
    `[############------------] ${describeProgress(later)}\n`,
  ]);

  const other = status({ name: "small.bin", root: "bb".repeat(32), size: MiB, bytes: MiB });
  progress.update(other);
  assert.deepEqual(stdout.writes.slice(3), [
    UP_AND_CLEAR(1),
    `[############------------] ${describeProgress(later)}\n` +
    `[########################] ${describeProgress(other)}\n`,
  ]);
});

Deno.test("on a terminal: a line is written above the bars, which are drawn again below it", () => {
  const { bars: progress, out, stdout } = bars("terminal");
  progress.update(status());
  stdout.writes.length = 0;
  out.line("saved small.bin");
  assert.deepEqual(stdout.writes, [
    UP_AND_CLEAR(1),
    "saved small.bin\n",
    `[######------------------] ${describeProgress(status())}\n`,
  ]);
});

Deno.test("on a terminal: a removed file's bar goes at the next draw; clear erases them all", () => {
  const { bars: progress, out, stdout } = bars("terminal");
  progress.update(status());
  progress.remove(status().root);
  stdout.writes.length = 0;
  out.line("saved big.bin");
  assert.deepEqual(stdout.writes, [UP_AND_CLEAR(1), "saved big.bin\n"], "no bar drawn again");

  progress.update(status());
  stdout.writes.length = 0;
  progress.clear();
  assert.deepEqual(stdout.writes, [UP_AND_CLEAR(1)]);
  progress.clear();
  assert.deepEqual(stdout.writes, [UP_AND_CLEAR(1)], "nothing left to erase");
});

Deno.test("only downloading files are shown", () => {
  const { bars: progress, stdout } = bars("terminal");
  for (const state of ["known", "checking", "seeding"] as const) progress.update(status({ state }));
  assert.deepEqual(stdout.writes, []);
});

Deno.test("elsewhere: a line a file, at most every 2 s", async () => {
  let now = 10_000;
  const { bars: progress, out, stdout } = bars("pipe", () => now);
  progress.update(status());
  now += 1000;
  progress.update(status({ bytes: 7 * MiB }));
  const other = status({ name: "b.bin", root: "bb".repeat(32) });
  progress.update(other);
  now += 1001;
  progress.update(status({ bytes: 8 * MiB }));
  await out.flushed();
  assert.equal(
    stdout.text,
    [
      describeProgress(status()),
      describeProgress(status({ bytes: 8 * MiB })),
      describeProgress(other),
    ].join("\n") + "\n",
  );
  assert.ok(!stdout.text.includes("\x1b"), "no terminal codes");
});

Deno.test("in JSON mode nothing is drawn or written (the progress events say it)", async () => {
  let now = 10_000;
  const { bars: progress, out, stdout, stderr } = bars("json", () => now);
  progress.update(status());
  now += 5000;
  progress.update(status({ bytes: 20 * MiB }));
  progress.remove(status().root);
  progress.clear();
  await out.flushed();
  assert.equal(stdout.text, "");
  assert.equal(stderr.text, "");
});
