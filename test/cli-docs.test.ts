/** docs/cli.md keeps up with the command: every command of the program has a section, every option a mention. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { allCommands, commandPath, latticeProgram } from "../src/cli/program.js";

const DOC = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");

/** The text before the first section: the options every command shares. */
const COMMON = DOC.slice(0, DOC.indexOf("\n## "));

/** Each `## ` section: its heading line and its text up to the next one. */
const SECTIONS = DOC.split(/\n(?=## )/)
  .filter((s) => s.startsWith("## "))
  .map((s) => ({ heading: s.slice(0, s.indexOf("\n")), text: s }));

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The section whose heading names `lattice a b` in backticks, alone or before its arguments. */
function sectionOf(path: string): string | undefined {
  const named = new RegExp(`\`${escape(path)}[ \`]`);
  return SECTIONS.find((s) => named.test(s.heading))?.text;
}

function mentions(text: string, flag: string): boolean {
  return new RegExp(`${escape(flag)}(?![\\w-])`).test(text);
}

/** Commands that run something: the leaves of the tree (`lattice get` only groups). */
const leaves: Command[] = allCommands(latticeProgram()).filter((c) => c.parent !== null && c.commands.length === 0);

describe("docs/cli.md", () => {
  it("has a section for every command", () => {
    assert.ok(leaves.length > 30, `walked ${leaves.length} commands`);
    const missing = leaves.map(commandPath).filter((p) => sectionOf(p) === undefined);
    assert.deepEqual(missing, [], "commands without a `## `lattice …`` section");
  });

  it("mentions every option of a command in its section, or among the shared options", () => {
    const missing: string[] = [];
    for (const cmd of leaves) {
      const section = sectionOf(commandPath(cmd)) ?? "";
      for (const o of cmd.options) {
        const flag = o.long ?? o.short ?? o.flags;
        if (!mentions(section, flag) && !mentions(COMMON, flag)) missing.push(`${commandPath(cmd)} ${flag}`);
      }
    }
    assert.deepEqual(missing, [], "options docs/cli.md does not mention");
  });
});
