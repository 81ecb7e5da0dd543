/**
 * A real Chromium for tests, driven by playwright-core: headless, a fresh profile, stopped at
 * cleanup by pid with every process under it.
 */
import { readFileSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { findChromium } from "./chromium.js";
import type { Cleanup } from "./lattice.js";
import { processTree } from "./process-tree.js";

/**
 * As root, Chromium needs --no-sandbox; the background-networking flags keep it from dialling
 * Google's services, which this machine's closed network refuses at every start.
 */
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  /** A new tab at `url`, its console kept for failure messages. */
  open(url: string): Promise<TestPage>;
}

export interface TestPage {
  page: Page;
  /** What the page printed to its console, and its uncaught errors. */
  console: string[];
}

/** Chromium processes started by this process (playwright spawns the browser as our child). */
function ourChromiums(): Set<number> {
  const ours = new Set<number>();
  for (const pid of processTree(process.pid).slice(1)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--remote-debugging-pipe")) ours.add(pid);
    } catch {
      // gone meanwhile
    }
  }
  return ours;
}

export async function launchBrowser(cleanup: Cleanup): Promise<TestBrowser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error("Chromium was not found: run `npm run setup` (apt-get install chromium) or set LATTICE_CHROMIUM");
  const before = ourChromiums();
  const browser = await chromium.launch({ executablePath, headless: true, args: FLAGS });
  const pids = [...ourChromiums()].filter((p) => !before.has(p));
  cleanup.add(async () => {
    const tree = pids.flatMap((p) => processTree(p));
    await browser.close().catch(() => undefined);
    for (const p of tree.reverse()) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone already
      }
    }
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
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
  };
}
