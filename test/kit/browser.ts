/**
 * A real Chromium for tests: started here as a child process (so it is stopped by pid, with every
 * process under it) and driven by playwright-core over CDP. Pages live in the browser's own
 * default context with none of playwright's emulation, so a tab put behind another is really
 * hidden, and its timers throttled, as in a user's browser.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { findChromium } from "./chromium.js";
import type { Cleanup } from "./lattice.js";
import { until } from "./poll.js";
import { processTree } from "./process-tree.js";

/**
 * As root, Chromium needs --no-sandbox; the background-networking flags keep it from dialling
 * Google's services, which this machine's closed network refuses at every start.
 */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  "--window-size=1280,860",
  "--remote-debugging-port=0",
];

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  /** A new tab at `url`, its console kept for failure messages. */
  open(url: string): Promise<TestPage>;
  /** Puts another tab in front of `page`, so it is hidden; the function returned shows it again. */
  hide(page: Page): Promise<() => Promise<void>>;
}

export interface TestPage {
  page: Page;
  /** What the page printed to its console, and its uncaught errors. */
  console: string[];
}

export async function launchBrowser(cleanup: Cleanup): Promise<TestBrowser> {
  const executable = findChromium();
  if (!executable) throw new Error("Chromium was not found: run `npm run setup` (apt-get install chromium) or set LATTICE_CHROMIUM");
  const profile = await mkdtemp(join(tmpdir(), "lattice-chromium-"));
  const child = spawn(executable, [...FLAGS, `--user-data-dir=${profile}`, "about:blank"], { stdio: "ignore" });
  const pid = child.pid!;
  const connected: { browser?: Browser } = {};
  cleanup.add(async () => {
    for (const p of processTree(pid).reverse()) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone already
      }
    }
    // With the browser gone this only drops playwright's side of the connection; bounded all
    // the same (over CDP, close() can wait on a browser that will never answer).
    await Promise.race([connected.browser?.close().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
    await rm(profile, { recursive: true, force: true });
  });
  // Chromium writes the port it chose, then the browser's target path, into its profile.
  const portFile = join(profile, "DevToolsActivePort");
  // Read until the port's line is whole: the file can be seen before it is written.
  const port = await until(() => existsSync(portFile) && /^(\d+)\n/.exec(readFileSync(portFile, "utf8"))?.[1], 30_000, "Chromium's DevTools port");
  // noDefaults (not in playwright's types): the default context's pages get no emulation.
  const options = { endpointURL: `http://127.0.0.1:${port}`, noDefaults: true };
  const browser = await chromium.connectOverCDP(options);
  connected.browser = browser;
  const context = browser.contexts()[0]!;
  return {
    browser,
    context,
    async open(url) {
      const page = await context.newPage();
      const lines: string[] = [];
      page.on("console", (m) => lines.push(`${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => lines.push(`pageerror: ${e.message}`));
      await page.goto(url);
      return { page, console: lines };
    },
    async hide(page) {
      const cover = await context.newPage();
      await cover.goto("about:blank");
      await cover.bringToFront();
      await until(() => page.evaluate(() => document.visibilityState === "hidden"), 10_000, "the page to be hidden");
      return async () => {
        await cover.close();
        await page.bringToFront();
      };
    },
  };
}
