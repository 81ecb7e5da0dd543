/** `lattice app deploy|validate|list|status|versions|undeploy|rollback`: declarative applications (what they do: actions/app.ts). */
import { Command, Option } from "commander";
import type { DeployOpts, WaitOpts } from "../actions/app.js";
import { parseDuration } from "../parse.js";
import { withStoreOptions, type StoreOpts } from "./artifacts.js";

function withWait(cmd: Command, what: string): Command {
  return cmd.addOption(new Option("--wait [duration]", `wait until ${what} (default 60s)`).argParser(parseDuration).preset("60s"));
}

function deployCommand(): Command {
  return withWait(
    new Command("deploy")
      .description("store a manifest version and make it the one the lattice runs (the reconciler converges to it)")
      .argument("<file>", "the manifest (YAML or JSON); see docs/apps.md")
      .option("--no-check-artifacts", "deploy even if an actor's artifact is not in the store yet (the app starts it once pushed)"),
    "the app runs as declared",
  ).action(async (file: string, opts: DeployOpts) => (await import("../actions/app.js")).deploy(file, opts));
}

function validateCommand(): Command {
  return new Command("validate")
    .description("check a manifest without deploying it: every problem, with its path and line; actors' artifacts too when the lattice can be reached")
    .argument("<file>")
    .action(async (file: string, opts: StoreOpts) => (await import("../actions/app.js")).validate(file, opts));
}

function listCommand(): Command {
  return new Command("list")
    .description("the deployed apps and their state")
    .action(async (opts: StoreOpts) => (await import("../actions/app.js")).list(opts));
}

function statusCommand(): Command {
  return new Command("status")
    .description("per component and host: the desired version and instances, what runs now, and why they differ")
    .argument("<name>")
    .action(async (name: string, opts: StoreOpts) => (await import("../actions/app.js")).status(name, opts));
}

function versionsCommand(): Command {
  return new Command("versions")
    .description("the stored versions of an app (rollback targets)")
    .argument("<name>")
    .action(async (name: string, opts: StoreOpts) => (await import("../actions/app.js")).versions(name, opts));
}

function undeployCommand(): Command {
  return withWait(new Command("undeploy").description("remove everything the app created, and the app").argument("<name>"), "everything is removed").action(
    async (name: string, opts: WaitOpts) => (await import("../actions/app.js")).undeploy(name, opts),
  );
}

function rollbackCommand(): Command {
  return withWait(new Command("rollback").description("deploy a stored earlier version again").argument("<name>").argument("<version>"), "the app runs that version").action(
    async (name: string, version: string, opts: WaitOpts) => (await import("../actions/app.js")).rollback(name, version, opts),
  );
}

export function appCommand(): Command {
  return new Command("app")
    .description("declarative apps: deploy a manifest and the lattice keeps it running as declared")
    .addCommand(withStoreOptions(deployCommand()))
    .addCommand(withStoreOptions(validateCommand()))
    .addCommand(withStoreOptions(listCommand()))
    .addCommand(withStoreOptions(statusCommand()))
    .addCommand(withStoreOptions(versionsCommand()))
    .addCommand(withStoreOptions(undeployCommand()))
    .addCommand(withStoreOptions(rollbackCommand()));
}
