/**
 * What `lattice dev` watches and type-checks: an actor's entry and the local modules it reaches
 * by relative import (the ones `lattice build` stages), and a TypeScript check of them against
 * the nearest tsconfig.json. Node only.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type TS from "typescript";
import { resolveRelative, shown } from "./build.js";

/** The entry and every local module it reaches by relative import (those that exist). */
export function localModules(ts: typeof TS, entry: string): string[] {
  const seen = new Set<string>();
  const queue = [resolve(entry)];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    seen.add(file);
    for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!spec.startsWith("./") && !spec.startsWith("../")) continue;
      const target = resolveRelative(file, spec);
      if (target !== undefined) queue.push(target);
    }
  }
  return [...seen];
}

/** The nearest tsconfig.json in the entry's directory or above it. */
export function nearestTsconfig(entry: string): string | undefined {
  for (let dir = dirname(resolve(entry)); ; dir = dirname(dir)) {
    const candidate = join(dir, "tsconfig.json");
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

const TS_FILE = /\.m?ts$/;

/**
 * Type-checks an actor's TypeScript modules as `tsc -p` of the nearest tsconfig.json would, with
 * its declaration files (the WIT imports' types), reporting only errors in the actor's own files.
 * Without a tsconfig.json there is nothing to check against (the imports of the WIT world have no
 * types), and only the syntax is checked, by the build. Library files are parsed once per session.
 */
export class TypeChecker {
  private readonly config: { options: TS.CompilerOptions; declarations: string[] } | undefined;
  private readonly libs = new Map<string, TS.SourceFile | undefined>();
  private old: TS.Program | undefined;

  constructor(
    private readonly ts: typeof TS,
    entry: string,
  ) {
    const path = nearestTsconfig(entry);
    if (path === undefined) return;
    const parsed = ts.getParsedCommandLineOfConfigFile(path, { noEmit: true }, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
    if (!parsed) return;
    this.config = { options: { ...parsed.options, noEmit: true }, declarations: parsed.fileNames.filter((f) => f.endsWith(".d.ts")) };
  }

  /** Whether a tsconfig.json was found to check against. */
  get enabled(): boolean {
    return this.config !== undefined;
  }

  /** The first type error in `files` (file:line:col: message, and how many more), if any. */
  check(files: string[]): string | undefined {
    const ts = this.ts;
    const own = files.filter((f) => TS_FILE.test(f));
    if (!this.config || own.length === 0) return undefined;
    const ownSet = new Set(own);
    const host = ts.createCompilerHost(this.config.options);
    const read = host.getSourceFile.bind(host);
    host.getSourceFile = (name, lang, onError) => {
      if (ownSet.has(resolve(name))) return read(name, lang, onError);
      if (!this.libs.has(name)) this.libs.set(name, read(name, lang, onError));
      return this.libs.get(name);
    };
    const program = ts.createProgram({ rootNames: [...this.config.declarations, ...own], options: this.config.options, host, ...(this.old ? { oldProgram: this.old } : {}) });
    this.old = program;
    const errors: TS.Diagnostic[] = [];
    for (const f of own) {
      const sf = program.getSourceFile(f);
      if (!sf) continue;
      for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) if (d.category === ts.DiagnosticCategory.Error) errors.push(d);
    }
    const first = errors[0];
    if (!first) return undefined;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
    return `${this.format(first)}${more}`;
  }

  private format(d: TS.Diagnostic): string {
    const text = this.ts.flattenDiagnosticMessageText(d.messageText, " ");
    if (!d.file || d.start === undefined) return text;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${shown(d.file.fileName)}:${line + 1}:${character + 1}: ${text}`;
  }
}
