import assert from "node:assert/strict";
import { CHAT_HELP, ChatCommandError, parseChatCommand } from "./chat_commands.ts";

const id = "0123456789abcdef0123456789abcdef";

/** Asserts that `line` is refused with exactly `message`. */
function refused(line: string, message: string): void {
  assert.throws(
    () => parseChatCommand(line),
    (error) => error instanceof ChatCommandError && error.message === message,
    line,
  );
}

Deno.test("a blank line is nothing; other text is a line to send, trimmed", () => {
  assert.equal(parseChatCommand(""), null);
  assert.equal(parseChatCommand("   \t "), null);
  assert.deepEqual(parseChatCommand("  hello  world "), { name: "say", text: "hello  world" });
  assert.deepEqual(parseChatCommand("not/a command"), { name: "say", text: "not/a command" });
});

Deno.test("/connect <host> <port> [id], and the host:port form", () => {
  assert.deepEqual(parseChatCommand("/connect 127.0.0.1 9000"), {
    name: "connect",
    host: "127.0.0.1",
    port: 9000,
    expectPeer: undefined,
  });
  assert.deepEqual(parseChatCommand(`/connect  example.org   0  ${id}`), {
    name: "connect",
    host: "example.org",
    port: 0,
    expectPeer: id,
  });
  assert.deepEqual(parseChatCommand("/connect localhost:9001"), {
    name: "connect",
    host: "localhost",
    port: 9001,
    expectPeer: undefined,
  });
  // The last colon before the port splits: an IPv6 host keeps its own.
  assert.deepEqual(parseChatCommand("/connect ::1:9002"), {
    name: "connect",
    host: "::1",
    port: 9002,
    expectPeer: undefined,
  });
});

Deno.test("/connect with a wrong number of words, or a bad port, says how to ask", () => {
  const usage = "usage: /connect <host> <port> [expected peer id]";
  refused("/connect", usage);
  refused("/connect localhost", usage);
  refused("/connect localhost:port", usage);
  refused(`/connect a 1 ${id} extra`, usage);
  refused("/connect localhost 70000", 'port must be a number from 0 to 65535, got "70000"');
  refused("/connect localhost abc", 'port must be a number from 0 to 65535, got "abc"');
});

Deno.test("/disconnect <port | host:port | id>", () => {
  for (const target of ["9000", "127.0.0.1:9000", id]) {
    assert.deepEqual(parseChatCommand(`/disconnect ${target}`), { name: "disconnect", target });
  }
  const usage = "usage: /disconnect <port | host:port | peer-id>";
  refused("/disconnect", usage);
  refused("/disconnect 9000 9001", usage);
});

Deno.test("/nick <name>", () => {
  assert.deepEqual(parseChatCommand("/nick ada"), { name: "nick", nick: "ada" });
  refused("/nick", "usage: /nick <name>");
  refused("/nick ada lovelace", "usage: /nick <name>");
});

Deno.test("/msg <nick | id> <text>: the words of the text joined by one space", () => {
  assert.deepEqual(parseChatCommand("/msg bob  see   you"), {
    name: "msg",
    to: "bob",
    text: "see you",
  });
  assert.deepEqual(parseChatCommand(`/msg ${id} hi`), { name: "msg", to: id, text: "hi" });
  refused("/msg", "usage: /msg <nick | id> <text>");
  refused("/msg bob", "usage: /msg <nick | id> <text>");
});

Deno.test("/files, /peers, /history, /stats, /help, /quit take no arguments (extra words are ignored)", () => {
  for (const name of ["files", "peers", "history", "stats", "help", "quit"]) {
    assert.deepEqual(parseChatCommand(`/${name}`), { name });
    assert.deepEqual(parseChatCommand(` /${name} now `), { name });
  }
});

Deno.test("/share takes the rest of the line as the path; /get and /cancel one word", () => {
  assert.deepEqual(parseChatCommand("/share  my photos/2026 trip "), {
    name: "share",
    path: "my photos/2026 trip",
  });
  refused("/share", "usage: /share <path of a file or folder>");
  const link = `meshtalk:${"ab".repeat(32)}?peer=10.0.0.7:7000&id=${id}`;
  assert.deepEqual(parseChatCommand(`/get ${link}`), { name: "get", target: link });
  assert.deepEqual(parseChatCommand("/get 3"), { name: "get", target: "3" });
  assert.deepEqual(parseChatCommand("/cancel report.pdf"), {
    name: "cancel",
    target: "report.pdf",
  });
  refused("/get", "usage: /get <number | name | hash prefix | link>");
  refused("/cancel a b", "usage: /cancel <number | name | hash prefix>");
});

Deno.test("an unknown command points to /help", () => {
  refused("/frobnicate", "unknown command /frobnicate; /help lists them");
  refused("/", "unknown command /; /help lists them");
  refused("/PEERS", "unknown command /PEERS; /help lists them");
});

Deno.test("the help lists every command the parser knows", () => {
  for (
    const name of [
      ...["connect", "disconnect", "peers", "nick", "msg", "history", "stats", "help"],
      ...["share", "files", "get", "cancel"],
    ]
  ) {
    assert.match(CHAT_HELP, new RegExp(`^  /${name}\\b`, "m"));
  }
  assert.match(CHAT_HELP, /^ {2}\/quit +leave \(also Ctrl-D\)$/m);
});

Deno.test("the help lines up every description in one column", () => {
  const rows = CHAT_HELP.split("\n").slice(1);
  // A row: two spaces, the syntax, two or more spaces, the description.
  const columns = rows.map((row) => {
    const [, , what] = /^ {2}(.*?\S) {2,}(\S.*)$/.exec(row) ?? [];
    assert.ok(what, `a syntax and a description: "${row}"`);
    return row.length - what.length;
  });
  assert.equal(new Set(columns).size, 1, CHAT_HELP);
});
