// A real browser for tests: Debian's Chromium, headless, driven by puppeteer-core over the
// DevTools protocol on loopback. Its profile is a fresh folder of the test's; everything that
// would reach outside the machine (updates, sync, metrics, QUIC) is off.
import puppeteer, { type Browser } from "puppeteer-core";

/** Where Chromium may be: `CHROMIUM` if set, then Debian's and others' usual paths. */
const CANDIDATES = [
  Deno.env.get("CHROMIUM"),
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
];

/** The path of a Chromium on this machine, or null. */
export function findChromium(): string | null {
  for (const path of CANDIDATES) {
    if (!path) continue;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there
    }
  }
  return null;
}

/** Starts Chromium at `executable`, headless, its profile in `profileDir`. */
export async function launchBrowser(executable: string, profileDir: string): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: executable,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profileDir}`,
    ],
  });
}
