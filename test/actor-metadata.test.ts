/** How a host decides from a component's own sections whether its HTTP instances are reused. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { actorMetadata, httpInstancesOf, processedBy, withActorMetadata } from "../src/actor/actor-metadata.js";
import { withCustomSection } from "../src/actor/wasm-sections.js";
import { exampleComponent, watEcho } from "./kit/fixtures.js";

describe("actor metadata", () => {
  it("lattice build marks a layered HTTP actor reuse, and one built for the engine's shim fresh", async () => {
    assert.deepEqual(actorMetadata(await exampleComponent("http-hello")), { http: "reuse" });
    assert.deepEqual(httpInstancesOf(await exampleComponent("http-hello")).mode, "reuse");
    assert.deepEqual(actorMetadata(await exampleComponent("http-hello-engine")), { http: "fresh" });
    assert.equal(httpInstancesOf(await exampleComponent("http-hello-engine")).mode, "fresh");
    assert.deepEqual(actorMetadata(await exampleComponent("echo")), {}, "no HTTP export, no mark");
  });

  it("reads the tools of the producers section", async () => {
    assert.ok(processedBy(await exampleComponent("echo")).includes("ComponentizeJS"));
    assert.deepEqual(processedBy(await watEcho()), []);
  });

  it("takes an unmarked componentize-js component for a serve-once one, and anything else as reusable", async () => {
    const unmarked = withActorMetadata(await exampleComponent("http-hello"), {});
    assert.equal(httpInstancesOf(unmarked).mode, "fresh");
    assert.match(httpInstancesOf(unmarked).why, /fetch-event shim/);
    assert.equal(httpInstancesOf(await watEcho()).mode, "reuse");
  });

  it("ignores a metadata section that is not JSON, or says something else", async () => {
    const wat = await watEcho();
    assert.deepEqual(actorMetadata(withCustomSection(wat, "lattice-actor", new TextEncoder().encode("{nope"))), {});
    assert.deepEqual(actorMetadata(withActorMetadata(wat, { http: "sometimes" as "reuse" })), {});
    assert.deepEqual(actorMetadata(withActorMetadata(wat, { http: "fresh" })), { http: "fresh" });
  });
});
