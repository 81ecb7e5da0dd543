/**
 * The file watch of `lattice dev`: an actor's modules and its WIT directory. Directories are
 * watched rather than files, so that an editor that saves by writing a new file and renaming it
 * over the old one is still seen. Events come in bursts (one save is often several writes):
 * `onChange` is called once the burst has been quiet for `settleMs`. Node only.
 */
import { watch, readdirSync, statSync, type FSWatcher } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

export class SourceWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  /** Per watched directory: the file names that matter there, or `*` for every `.wit` file. */
  private readonly wanted = new Map<string, Set<string> | "*">();
  private timer: NodeJS.Timeout | undefined;
  /** When the first event of the burst came (Date.now()). */
  private firstAt: number | undefined;

  constructor(
    /** Called once a burst of events has settled, with the time of its first event. */
    private readonly onChange: (firstAt: number) => void,
    private readonly settleMs = 20,
  ) {}

  /** Watch these files and the WIT path (a directory with its subdirectories, or one file); replaces what was watched. */
  set(files: string[], witPath: string): void {
    this.wanted.clear();
    for (const f of files.map((x) => resolve(x))) {
      const dir = dirname(f);
      const names = this.wanted.get(dir);
      if (names === "*") continue;
      this.wanted.set(dir, (names ?? new Set()).add(basename(f)));
    }
    const wit = resolve(witPath);
    if (statSync(wit, { throwIfNoEntry: false })?.isDirectory()) {
      for (const d of directoriesUnder(wit)) this.wanted.set(d, "*");
    } else {
      this.wanted.set(dirname(wit), (this.wanted.get(dirname(wit)) as Set<string> | undefined ?? new Set()).add(basename(wit)));
    }
    for (const [dir, w] of this.watchers) {
      if (!this.wanted.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of this.wanted.keys()) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, (_event, name) => this.seen(dir, name));
        w.on("error", () => undefined);
        this.watchers.set(dir, w);
      } catch {
        // A directory that went away: the next build reports the missing file.
      }
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private seen(dir: string, name: string | Buffer | null): void {
    const w = this.wanted.get(dir);
    const file = name === null ? undefined : name.toString();
    // No name: the platform could not say which file; take it as a change.
    if (w !== "*" && w !== undefined && file !== undefined && !w.has(file)) return;
    if (w === "*" && file !== undefined && !file.endsWith(".wit") && statSync(join(dir, file), { throwIfNoEntry: false })?.isDirectory() !== true) return;
    this.firstAt ??= Date.now();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const at = this.firstAt ?? Date.now();
      this.firstAt = undefined;
      this.onChange(at);
    }, this.settleMs);
  }
}

function directoriesUnder(dir: string): string[] {
  const out = [dir];
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...directoriesUnder(join(dir, e.name)));
  return out;
}
