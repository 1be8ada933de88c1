import assert from "node:assert/strict";
import { Command, InvalidArgumentError } from "./command.ts";
import {
  collectAddress,
  defaultDataDir,
  parseHostPort,
  parsePort,
  parseWebAddress,
  runCommand,
  UsageError,
  userPath,
} from "./options.ts";

const projectDir = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Runs `body` with the environment variables `vars` (undefined: unset), then restores them. */
function withEnv(vars: Record<string, string | undefined>, body: () => void): void {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, Deno.env.get(name)]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  };
  apply(vars);
  try {
    body();
  } finally {
    apply(saved);
  }
}

/** Runs `body` in the directory `dir`, then goes back. */
function inDir(dir: string, body: () => void): void {
  const saved = Deno.cwd();
  Deno.chdir(dir);
  try {
    body();
  } finally {
    Deno.chdir(saved);
  }
}

Deno.test("parsePort: 0 to 65535; anything else is refused, naming what was given", () => {
  assert.equal(parsePort("0"), 0);
  assert.equal(parsePort("9000"), 9000);
  assert.equal(parsePort("65535"), 65535);
  for (const text of ["65536", "70000", "abc", "-1", "1.5", "", " 80", "0x50"]) {
    assert.throws(
      () => parsePort(text),
      (error) =>
        error instanceof InvalidArgumentError &&
        error.message === `port must be a number from 0 to 65535, got "${text}"`,
      text,
    );
  }
  assert.throws(() => parsePort("x", "peer port"), /^InvalidArgumentError: peer port must be/);
});

Deno.test("parseHostPort: host:port, IPv6 in brackets; a wrong one is an argument error", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:9000"), { host: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseHostPort("localhost:0"), { host: "localhost", port: 0 });
  assert.deepEqual(parseHostPort("[::1]:9000"), { host: "::1", port: 9000 });
  assert.deepEqual(parseHostPort("[fe80::1%eth0]:65535"), { host: "fe80::1%eth0", port: 65535 });
  for (const text of ["localhost", "localhost:", ":9000", "host:70000", "::1:9000", "a b:1"]) {
    assert.throws(
      () => parseHostPort(text),
      (error) => error instanceof InvalidArgumentError && error.message.includes(`"${text}"`),
      text,
    );
  }
});

Deno.test("collectAddress: each --peer adds one address, in order", () => {
  const first = collectAddress("127.0.0.1:1", []);
  assert.deepEqual(collectAddress("[::1]:2", first), [
    { host: "127.0.0.1", port: 1 },
    { host: "::1", port: 2 },
  ]);
  assert.deepEqual(first, [{ host: "127.0.0.1", port: 1 }], "the previous list is not changed");
});

Deno.test("userPath without INIT_CWD: against the current directory, . and .. resolved", () => {
  const dir = Deno.makeTempDirSync();
  try {
    withEnv({ INIT_CWD: undefined }, () =>
      inDir(dir, () => {
        const cwd = Deno.cwd();
        assert.equal(userPath("a.txt"), `${cwd}/a.txt`);
        assert.equal(userPath("./sub/../b.txt"), `${cwd}/b.txt`);
        assert.equal(userPath("/abs//x/./y/../z"), "/abs/x/z");
      }));
  } finally {
    Deno.removeSync(dir);
  }
});

Deno.test("userPath with INIT_CWD: the user's directory when deno task runs us in the project's", () => {
  withEnv({ INIT_CWD: "/home/ada/files" }, () => {
    inDir(projectDir, () => {
      assert.equal(userPath("part2.txt"), "/home/ada/files/part2.txt");
      assert.equal(userPath("../b/c"), "/home/ada/b/c");
      assert.equal(userPath("/tmp/x"), "/tmp/x", "an absolute path stays");
    });
    // Run elsewhere (a test's child process inherits INIT_CWD), the current directory counts.
    const dir = Deno.makeTempDirSync();
    try {
      inDir(dir, () => assert.equal(userPath("a"), `${Deno.cwd()}/a`));
    } finally {
      Deno.removeSync(dir);
    }
  });
});

Deno.test("defaultDataDir: one per port, under MESHTALK_HOME, XDG_DATA_HOME or HOME", () => {
  withEnv({ MESHTALK_HOME: "/m", XDG_DATA_HOME: "/x", HOME: "/h" }, () => {
    assert.equal(defaultDataDir(9000), "/m/peer-9000");
  });
  withEnv({ MESHTALK_HOME: undefined, XDG_DATA_HOME: "/x", HOME: "/h" }, () => {
    assert.equal(defaultDataDir(9000), "/x/meshtalk/peer-9000");
  });
  withEnv({ MESHTALK_HOME: undefined, XDG_DATA_HOME: undefined, HOME: "/h" }, () => {
    assert.equal(defaultDataDir(0), "/h/.local/share/meshtalk/peer-0");
  });
});

/** A program like the commands', its output kept instead of printed. */
function program(printed: string[]): Command {
  return new Command("demo")
    .argument("<port>", "a port", (v) => parsePort(v))
    .option("--fail", "throw a usage error", false)
    .configureOutput({
      writeOut: (text) => printed.push(text),
      outputError: (text) => printed.push(text),
    });
}

/** Runs `body` with console.error collecting its lines. */
async function collectingErrors<T>(lines: string[], body: () => Promise<T>): Promise<T> {
  const saved = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    return await body();
  } finally {
    console.error = saved;
  }
}

Deno.test("runCommand: runs with the checked options and resolves with the command's code", async () => {
  const printed: string[] = [];
  const demo = program(printed);
  const ran: unknown[] = [];
  const code = await runCommand(demo, ["9000"], () => demo.processedArgs[0] as number, (port) => {
    ran.push(port);
    return Promise.resolve(7);
  });
  assert.equal(code, 7);
  assert.deepEqual(ran, [9000]);
  assert.deepEqual(printed, []);
});

Deno.test("runCommand: a usage error is '<command>: <message>' and a usage line, exit code 2", async () => {
  const printed: string[] = [];
  const errors: string[] = [];
  const demo = program(printed);
  const code = await collectingErrors(errors, () =>
    runCommand(demo, ["9000", "--fail"], () => {
      if (demo.opts().fail) throw new UsageError("--fail was given");
      return 0;
    }, () => Promise.reject(new Error("must not run"))));
  assert.equal(code, 2);
  assert.deepEqual(errors, [
    "demo: --fail was given",
    "usage: demo [options] <port>  (--help for more)",
  ]);
});

Deno.test("runCommand: a bad argument is worded by the reader, exit code 2; --help exits 0", async () => {
  const printed: string[] = [];
  const errors: string[] = [];
  const bad = await collectingErrors(
    errors,
    () => runCommand(program(printed), ["70000"], () => 0, () => Promise.resolve(1)),
  );
  assert.equal(bad, 2);
  assert.deepEqual(errors, ["usage: demo [options] <port>  (--help for more)"], "and the usage");
  assert.match(printed.join(""), /port must be a number from 0 to 65535, got "70000"/);

  printed.length = 0;
  const help = await runCommand(program(printed), ["--help"], () => 0, () => Promise.resolve(1));
  assert.equal(help, 0);
  assert.match(printed.join(""), /^Usage: demo \[options\] <port>/);
});

Deno.test("--web takes a port (on loopback) or host:port, and says what it takes otherwise", () => {
  assert.deepEqual(parseWebAddress("0"), { host: "127.0.0.1", port: 0 });
  assert.deepEqual(parseWebAddress("8080"), { host: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseWebAddress("0.0.0.0:8080"), { host: "0.0.0.0", port: 8080 });
  assert.deepEqual(parseWebAddress("[::1]:8080"), { host: "::1", port: 8080 });
  for (const wrong of ["", "70000", "localhost", "host:", ":80", "a b:80"]) {
    assert.throws(() => parseWebAddress(wrong), InvalidArgumentError, wrong);
  }
  assert.throws(() => parseWebAddress("localhost"), /--web takes a port, or host:port/);
  assert.throws(() => parseWebAddress("70000"), /--web port must be a number from 0 to 65535/);
});
