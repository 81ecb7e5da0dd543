// Runs every compiled test file with node's test runner. Node 20 has no glob support in --test,
// so the files are listed here. Extra arguments select files by substring: `npm test -- host`.
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const dir = "dist/test";
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".test.js"))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .map((f) => join(dir, f));
if (files.length === 0) {
  console.error(`no test files in ${dir} match ${filters.join(", ") || "*.test.js"}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=2", "--test-reporter=spec", ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
