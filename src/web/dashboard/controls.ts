/**
 * What a user can do from the dashboard, each through the lattice's public interface as the CLI
 * does it: start, scale and stop actors (LatticeClient), put and delete links (LatticeState),
 * deploy and undeploy apps (AppStore, the manifest checked as `lattice app deploy` checks it).
 * Each form answers in its own message line (`data-state` ok, error or busy).
 */
import type { AppStore } from "../../apps/app-store.js";
import { ManifestError, parseManifest, type LatticeChecks } from "../../apps/manifest.js";
import type { LatticeClient, PlacementResult } from "../../ctl/index.js";
import type { ArtifactStore } from "../../nats/artifact-store.js";
import type { LatticeState } from "../../nats/lattice-state.js";
import { DEFAULT_LINK_NAME, assertLinkInterface, assertLinkName, assertTargetId, formatArtifactRef, isLatticeError, messageOf, parseArtifactRef } from "../../protocol/index.js";
import { h } from "./dom.js";

export interface Lattice {
  lattice: string;
  client: LatticeClient;
  state: LatticeState;
  apps: AppStore;
  artifacts: ArtifactStore;
  /** Ask the lattice again now (after an action). */
  refresh(): void;
}

/** Placing instances waits as long as the CLI does: hosts fetch and compile first. */
const PLACE_TIMEOUT_MS = 60_000;

const $ = <E extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as E;

type MessageState = "ok" | "error" | "busy";

export function say(el: HTMLElement, state: MessageState, message: string): void {
  el.dataset["state"] = state;
  el.textContent = message;
}

/** An error as people read it: `code: message` for the lattice's own. */
export function errorText(e: unknown): string {
  return isLatticeError(e) ? `${e.code}: ${e.message}` : messageOf(e);
}

/** What a placement did, as `lattice start actor` prints it; `ok` false when some of it failed. */
export function placementText(what: string, actorId: string, r: PlacementResult): { ok: boolean; text: string } {
  const lines = r.results.map((x) => `${what} ${x.actor.id} on ${x.hostName}: ${x.previous} → ${x.actor.instances}`);
  if (r.results.length === 0 && r.errors.length === 0 && r.unplaced === 0) lines.push("nothing to change");
  for (const s of r.skipped) lines.push(`skipped host ${s.hostName}: ${s.reason}`);
  for (const e of r.errors) lines.push(`host ${e.hostName}: ${e.error.code}: ${e.error.message}`);
  if (r.unplaced > 0) lines.push(`${r.unplaced} instance${r.unplaced === 1 ? "" : "s"} of ${actorId} found no host that takes ${r.unplaced === 1 ? "it" : "them"}`);
  return { ok: r.errors.length === 0 && r.unplaced === 0, text: lines.join("\n") };
}

/** Run an action with its button disabled and its answer in `msg`. */
async function run(button: HTMLButtonElement | null, msg: HTMLElement, busy: string, fn: () => Promise<{ ok: boolean; text: string }>): Promise<void> {
  if (button) button.disabled = true;
  say(msg, "busy", busy);
  try {
    const r = await fn();
    say(msg, r.ok ? "ok" : "error", r.text);
  } catch (e) {
    say(msg, "error", errorText(e));
  } finally {
    if (button) button.disabled = false;
  }
}

function wholeNumber(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < 0 || n > 1000) throw new Error(`${what}: a whole number from 0 to 1000, not ${JSON.stringify(text)}`);
  return n;
}

function startForm(l: Lattice): void {
  const form = $<HTMLFormElement>("start-form");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const msg = $("start-msg");
    const ref = $<HTMLInputElement>("start-ref").value.trim();
    const idText = $<HTMLInputElement>("start-id").value.trim();
    void run(form.querySelector("button"), msg, "starting…", async () => {
      if (!ref) throw new Error("give the artifact reference to start (NAME[:VERSION], as `lattice push` stored it)");
      const parsed = parseArtifactRef(ref);
      // As `lattice start actor` needs --id; the artifact's name is a fair default here.
      const actorId = assertTargetId(idText || parsed.name);
      const instances = wholeNumber($<HTMLInputElement>("start-instances").value, "instances");
      const hostId = $<HTMLSelectElement>("start-host").value || undefined;
      const r = await l.client.startActor({ actorId, ref: formatArtifactRef(parsed), instances, hostId, timeoutMs: PLACE_TIMEOUT_MS });
      l.refresh();
      return placementText("started", actorId, r);
    });
  });
}

function actorTable(l: Lattice): void {
  $("actors-body").addEventListener("input", (ev) => {
    const input = ev.target as HTMLInputElement;
    if (input.matches(".scale-input")) input.dataset["dirty"] = "1";
  });
  $("actors-body").addEventListener("keydown", (ev) => {
    const input = ev.target as HTMLElement;
    if (ev.key === "Enter" && input.matches(".scale-input")) input.parentElement?.querySelector<HTMLButtonElement>('[data-action="scale"]')?.click();
  });
  $("actors-body").addEventListener("click", (ev) => {
    const button = (ev.target as HTMLElement).closest<HTMLButtonElement>("button[data-action]");
    const row = button?.closest<HTMLElement>("tr[data-actor-id]");
    if (!button || !row) return;
    const actorId = row.dataset["actorId"]!;
    const msg = $("actor-msg");
    if (button.dataset["action"] === "scale") {
      const input = row.querySelector<HTMLInputElement>(".scale-input")!;
      void run(button, msg, `scaling ${actorId}…`, async () => {
        const n = wholeNumber(input.value, `instances of ${actorId}`);
        const r = await l.client.scaleActor(actorId, n, PLACE_TIMEOUT_MS);
        delete input.dataset["dirty"];
        l.refresh();
        return placementText("scaled", actorId, r);
      });
    } else if (button.dataset["action"] === "stop") {
      void run(button, msg, `stopping ${actorId}…`, async () => {
        const n = await l.client.stopActor(actorId);
        l.refresh();
        return { ok: true, text: `stopped ${actorId}: ${n} instance${n === 1 ? "" : "s"}` };
      });
    }
  });
}

function linkForm(l: Lattice): void {
  const form = $<HTMLFormElement>("link-form");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = (id: string) => $<HTMLInputElement>(id).value.trim();
    void run(form.querySelector("button"), $("link-msg"), "linking…", async () => {
      const source = assertTargetId(value("link-source"));
      const target = assertTargetId(value("link-target"));
      const iface = assertLinkInterface(value("link-interface"));
      const name = assertLinkName(value("link-name") || DEFAULT_LINK_NAME);
      const config = value("link-config")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      await l.state.putLink({ source, target, interface: iface, name, config });
      form.reset();
      return { ok: true, text: `linked ${source} → ${target} for ${iface}${name === DEFAULT_LINK_NAME ? "" : ` (${name})`}` };
    });
  });
  $("links-body").addEventListener("click", (ev) => {
    const button = (ev.target as HTMLElement).closest<HTMLButtonElement>('button[data-action="unlink"]');
    const key = button?.closest<HTMLElement>("tr[data-link]")?.dataset["link"];
    if (!button || !key) return;
    const [source, iface, name] = key.split(" ") as [string, string, string];
    void run(button, $("link-msg"), "deleting the link…", async () => {
      const removed = await l.state.deleteLink(source, iface, name);
      return removed ? { ok: true, text: `removed the link from ${source} for ${iface}` } : { ok: false, text: `no link from ${source} for ${iface} named ${name}` };
    });
  });
}

/** The artifacts in the store, to check a manifest's actors as `lattice app deploy` does; none when the store cannot be read. */
async function artifactChecks(l: Lattice): Promise<LatticeChecks> {
  try {
    return { artifacts: { lattice: l.lattice, stored: await l.artifacts.list() } };
  } catch {
    return {};
  }
}

function deployForm(l: Lattice): void {
  const form = $<HTMLFormElement>("deploy-form");
  const problems = $("manifest-problems");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $<HTMLTextAreaElement>("manifest").value;
    problems.replaceChildren();
    void run(form.querySelector("button"), $("deploy-msg"), "deploying…", async () => {
      if (text.trim() === "") throw new Error("paste a manifest (YAML or JSON) first; see docs/apps.md");
      let manifest;
      try {
        manifest = parseManifest(text, "manifest", await artifactChecks(l));
      } catch (e) {
        if (!(e instanceof ManifestError)) throw e;
        problems.replaceChildren(
          ...e.problems.map((p) => h("li", { "data-line": p.line ?? "", "data-path": p.path }, p.line ? h("span", { class: "line" }, `line ${p.line}`) : "", h("code", {}, p.path), ` ${p.message}`)),
        );
        return { ok: false, text: `the manifest has ${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}` };
      }
      const r = await l.apps.deploy(manifest);
      l.refresh();
      const was = r.unchanged ? " (already the deployed version)" : r.previous ? ` (was ${r.previous})` : "";
      return { ok: true, text: `app ${manifest.name} ${manifest.version} deployed${was}` };
    });
  });
  $("apps-body").addEventListener("click", (ev) => {
    const button = (ev.target as HTMLElement).closest<HTMLButtonElement>('button[data-action="undeploy"]');
    const name = button?.closest<HTMLElement>("tr[data-app]")?.dataset["app"];
    if (!button || !name) return;
    void run(button, $("deploy-msg"), `undeploying ${name}…`, async () => {
      await l.apps.undeploy(name);
      l.refresh();
      return { ok: true, text: `app ${name} is being removed` };
    });
  });
}

export function wireControls(l: Lattice): void {
  startForm(l);
  actorTable(l);
  linkForm(l);
  deployForm(l);
}
