// `deno task compile` builds a single binary. Deno downloads the runtime it embeds unless
// DENORT_BIN names one, and this machine cannot download it: so the test runs only where
// DENORT_BIN is set, and says so when it is skipped.
import assert from "node:assert/strict";

const denort = Deno.env.get("DENORT_BIN");
if (!denort) {
  console.log(
    "compile test skipped: DENORT_BIN is not set (deno compile needs a runtime binary it cannot download here)",
  );
}

Deno.test({
  name:
    "deno task compile builds chat and share binaries that start peers, the chat's page included",
  ignore: !denort,
  async fn() {
    const root = new URL("../", import.meta.url).pathname;
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: root,
      env: { DENORT_BIN: denort! },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    for (
      const [binary, args] of [
        ["meshtalk-chat", ["0", "--json", "--no-input", "--no-discovery", "--web", "0"]],
        ["meshtalk-share", ["--port", "0", "--json", "--seed-only", "--no-discovery"]],
      ] as const
    ) {
      const dataDir = await Deno.makeTempDir();
      const peer = new Deno.Command(`${root}dist/${binary}`, {
        args: [...args, "--data-dir", dataDir],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
      // The chat's page is served from the files the binary carries (--include apps/cli/web).
      const lines = binary === "meshtalk-chat" ? 2 : 1;
      let text = "";
      while (text.split("\n").length <= lines) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      const events = text.split("\n").slice(0, lines).map((line) => JSON.parse(line));
      let page = 0;
      if (lines === 2) {
        const answer = await fetch(events[1].url);
        page = answer.status;
        await answer.body?.cancel();
      }
      peer.kill("SIGTERM");
      await reader.cancel();
      await peer.status;
      await Deno.remove(dataDir, { recursive: true });
      assert.equal(events[0].event, "ready", `${binary} is ready`);
      if (lines === 2) {
        assert.equal(events[1].event, "web");
        assert.equal(page, 200, `${binary} serves its page`);
      }
    }
  },
});
