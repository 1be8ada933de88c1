import assert from "node:assert/strict";
import type { ChatMessage } from "@meshtalk/chat";
import { RecordingStream } from "./_recording_stream.ts";
import { formatMessage, formatPeer, messageEvent, neighbourLines, statsLine } from "./chat_view.ts";
import { Output } from "./output.ts";

const ada = { id: "4f1c0a9be27d4c1f8a6b3e5d7c9f0a12", nick: "ada" };

function message(fields: Partial<ChatMessage> = {}): ChatMessage {
  return {
    id: "m1",
    from: ada,
    text: "hello there",
    hops: 1,
    sentAt: new Date(2025, 0, 2, 13, 4, 5).getTime(),
    clock: 3,
    direct: false,
    late: false,
    ...fields,
  };
}

const plain = new Output(false, { stdout: new RecordingStream({ terminal: false }) });

Deno.test("a message line: local time, author with short id, text", () => {
  assert.equal(formatMessage(plain, message()), "13:04:05 ada (4f1c0a9b): hello there");
});

Deno.test("a message line is tagged [late] and [direct], in that order", () => {
  assert.equal(
    formatMessage(plain, message({ late: true, direct: true })),
    "13:04:05 [late] [direct] ada (4f1c0a9b): hello there",
  );
  assert.equal(
    formatMessage(plain, message({ direct: true })),
    "13:04:05 [direct] ada (4f1c0a9b): hello there",
  );
});

Deno.test("in colour, the author's name takes a colour of its id", () => {
  const saved = Deno.env.get("NO_COLOR");
  Deno.env.delete("NO_COLOR");
  try {
    const coloured = new Output(false, { stdout: new RecordingStream({ terminal: true }) });
    const line = formatMessage(coloured, message());
    // 0x4f = 79; 79 % 6 = 1: colour 32.
    assert.ok(line.includes("\x1b[1;32mada\x1b[0m"), JSON.stringify(line));
    assert.ok(line.endsWith(": hello there"));
  } finally {
    if (saved !== undefined) Deno.env.set("NO_COLOR", saved);
  }
});

Deno.test("a message event carries id, author, text, hops, time and the late flag", () => {
  const m = message({ late: true });
  assert.deepEqual(messageEvent(m), {
    id: "m1",
    from: ada,
    text: "hello there",
    hops: 1,
    sentAt: m.sentAt,
    late: true,
  });
});

Deno.test("a peer in a line: nickname and short id", () => {
  assert.equal(formatPeer(ada), "ada (4f1c0a9b)");
});

Deno.test("/peers: a hint with no neighbours, else aligned rows", () => {
  assert.deepEqual(neighbourLines([]), ["no neighbours yet: /connect <host> <port>"]);
  const rows = neighbourLines([
    { ...ada, address: "127.0.0.1:9001", remoteAddress: "127.0.0.1:40000", rttMs: 0.123 },
    {
      id: "ffeeddccbbaa99887766554433221100",
      nick: "bob",
      address: null,
      remoteAddress: "10.0.0.2:51000",
      rttMs: null,
    },
  ]);
  assert.deepEqual(rows, [
    "id        nickname         address                round trip",
    "4f1c0a9b  ada              127.0.0.1:9001         0.12 ms",
    "ffeeddcc  bob              10.0.0.2:51000         -",
  ]);
});

Deno.test("/stats: each counter by name", () => {
  assert.equal(
    statsLine({ sent: 1, delivered: 2, forged: 0, framesSent: 9, late: 1 }),
    "sent 1, shown 2, of them late 1, forgeries dropped 0",
  );
});
