// `deno task install` puts one `meshtalk` command on the PATH (no compile, no runtime download):
// installed into a temp root, it runs `meshtalk chat` peers that talk, and says how it is used.
import assert from "node:assert/strict";
import { type Event, MeshProcess } from "./_process.ts";

const root = new URL("../", import.meta.url).pathname;
const is = (name: string) => (event: Event) => event.event === name;

Deno.test("deno task install gives a meshtalk command that runs chat and share", async () => {
  const dir = await Deno.makeTempDir({ prefix: "meshtalk-install-" });
  const processes: MeshProcess[] = [];
  try {
    const install = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "install"],
      cwd: root,
      env: { DENO_INSTALL_ROOT: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(install.success, new TextDecoder().decode(install.stderr));
    const meshtalk = `${dir}/bin/meshtalk`;
    const run = (args: string[]) => {
      const process = new MeshProcess("", args, { executable: meshtalk, cwd: dir });
      processes.push(process);
      return process;
    };

    const help = run(["--help"]);
    assert.equal(await help.exited(), 0);
    assert.ok(
      help.stdout.some((l) => /^ {2}chat <port> \[host port\] /.test(l)),
      help.stdout.join("\n"),
    );
    assert.ok(help.stdout.some((l) => /^ {2}share \[options\] /.test(l)));
    const wrong = run(["chatt"]);
    assert.equal(await wrong.exited(), 2);
    assert.ok(wrong.stderr.includes('meshtalk: no command "chatt"'), wrong.stderr.join("\n"));

    const a = run(["chat", "0", "--json", "--no-input", "--data-dir", "a", "--nick", "ada"]);
    const { port } = await a.waitFor(is("ready"), "ada ready", 30_000);
    const b = run(["chat", "0", "127.0.0.1", String(port), "--json", "--data-dir", "b"]);
    await b.type("hello from the installed command");
    const message = await a.waitFor(is("message"), "the line at ada", 30_000);
    assert.equal(message.text, "hello from the installed command");
    assert.equal(await b.end(), 0);

    const share = run([
      ...["share", "--port", "0", "--json", "--data-dir", "s", "--seed-only", "--web", "0"],
    ]);
    const ready = await share.waitFor(is("ready"), "share ready", 30_000);
    assert.equal(typeof ready.port, "number");
    // The page's files are found beside the installed command's modules.
    const web = await share.waitFor(is("web"), "share's page", 30_000);
    const page = await fetch(web.url as string);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>meshtalk<\/title>/);
    assert.equal(await share.kill("SIGTERM"), 143);
    assert.equal(await a.kill("SIGINT"), 130);
  } finally {
    for (const process of processes) await process.kill("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
