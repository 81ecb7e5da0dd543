/** Spreading instances over hosts, and passing over hosts that refuse: pure, so every case is cheap to check. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { matches, spread, type Candidate } from "../src/ctl/index.js";
import { actorRefusal, place, signerOf } from "../src/ctl/placement.js";
import { ErrorCode, LatticeError, type ActorEntry, type ActorScaleResult, type HostInfo } from "../src/protocol/index.js";

const c = (hostId: string, load: number, current = 0, labels: Record<string, string> = {}): Candidate => ({ hostId, labels, load, current });

describe("placement", () => {
  it("spreads evenly over equal hosts", () => {
    assert.deepEqual(Object.fromEntries(spread([c("a", 0), c("b", 0)], 4)), { a: 2, b: 2 });
    assert.deepEqual(Object.fromEntries(spread([c("a", 0), c("b", 0), c("c", 0)], 4)), { a: 2, b: 1, c: 1 });
  });

  it("fills the least loaded hosts first", () => {
    assert.deepEqual(Object.fromEntries(spread([c("a", 5), c("b", 0)], 3)), { a: 0, b: 3 });
    assert.deepEqual(Object.fromEntries(spread([c("a", 2), c("b", 0)], 4)), { a: 1, b: 3 });
  });

  it("keeps what runs when growing, and takes from the fullest when shrinking", () => {
    assert.deepEqual(Object.fromEntries(spread([c("a", 2, 2), c("b", 0, 0)], 4)), { a: 2, b: 2 });
    assert.deepEqual(Object.fromEntries(spread([c("a", 3, 3), c("b", 1, 1)], 2)), { a: 1, b: 1 });
    assert.deepEqual(Object.fromEntries(spread([c("a", 3, 3), c("b", 1, 1)], 0)), { a: 0, b: 0 });
  });

  it("matches label constraints exactly", () => {
    assert.ok(matches({ region: "eu", cloud: "aws" }, { region: "eu" }));
    assert.ok(matches({}, {}));
    assert.ok(!matches({ region: "us" }, { region: "eu" }));
    assert.ok(!matches({}, { region: "eu" }));
  });

  it("says which hosts refuse by what they advertise, once the signer is known", () => {
    const issuer = `A${"C".repeat(55)}`;
    const info = (accepts?: HostInfo["accepts"]): HostInfo => ({ id: `N${"A".repeat(55)}`, name: "h", lattice: "t", labels: {}, version: "0", startedAt: new Date().toISOString(), heartbeatMs: 1000, uptimeSeconds: 1, ...(accepts ? { accepts } : {}) });
    const strict = info({ actors: true, providers: true, issuers: [issuer] });
    assert.equal(actorRefusal(info(), "e:1", "unsigned"), undefined, "a host of an earlier version says nothing: it may take it");
    assert.equal(actorRefusal(info({ actors: false, providers: true }), "e:1", undefined), "it runs no actors");
    assert.equal(actorRefusal(strict, "e:1", undefined), undefined, "unknown signer: only asking tells");
    assert.equal(actorRefusal(strict, "e:1", { issuer }), undefined);
    assert.equal(actorRefusal(strict, "e:1", "unsigned"), "it runs only actors signed by ACCCCCCC…, and e:1 is unsigned");
    assert.match(actorRefusal(strict, "e:1", { issuer: `A${"D".repeat(55)}` })!, /and e:1 is signed by ADDDDDDD…$/);

    const entry = (ref: string, claimed?: string): ActorEntry => ({ id: "e", ref, digest: "sha256:0", instances: 1, startedAt: new Date().toISOString(), constraints: {}, ...(claimed ? { claims: { issuer: claimed, subject: `M${"A".repeat(55)}`, name: "e", caps: [] } } : {}) });
    assert.equal(signerOf("e:1", []), undefined);
    assert.equal(signerOf("e:1", [entry("e:1"), entry("e:2", issuer)]), "unsigned");
    assert.deepEqual(signerOf("e:1", [entry("e:1", issuer)]), { issuer });
    assert.equal(signerOf("e:1", [entry("e:1", issuer), entry("e:1")]), undefined, "hosts disagree");
  });

  it("gives a refusing host's share to the others; what it runs stays", async () => {
    const asked: string[] = [];
    const scale = (refusing: Set<string>) => (hostId: string, n: number): Promise<ActorScaleResult> => {
      asked.push(`${hostId}=${n}`);
      if (refusing.has(hostId)) return Promise.reject(new LatticeError(ErrorCode.Forbidden, `actor e refused on ${hostId}`));
      return Promise.resolve({ hostId, previous: 0, actor: { id: "e", ref: "e:1", digest: "sha256:0", instances: n, startedAt: new Date().toISOString(), constraints: {} } });
    };
    const r = await place([c("a", 0), c("b", 0), c("c", 0)], 4, scale(new Set(["a"])));
    assert.deepEqual(asked, ["a=2", "b=1", "c=1", "b=2", "c=2"]);
    assert.deepEqual(r.refused.map((x) => x.hostId), ["a"]);
    assert.deepEqual(r.results.map((x) => [x.hostId, x.previous, x.actor.instances]), [["b", 0, 2], ["c", 0, 2]]);
    assert.equal(r.unplaced, 0);

    const kept = await place([c("a", 1, 1), c("b", 5)], 3, scale(new Set(["a"])));
    assert.deepEqual(kept.results.map((x) => [x.hostId, x.actor.instances]), [["b", 2]], "a keeps its one instance, b takes the rest");
    const nobody = await place([c("a", 0)], 2, scale(new Set(["a"])));
    assert.equal(nobody.unplaced, 2);
    const failing = await place([c("a", 0)], 1, () => Promise.reject(new LatticeError(ErrorCode.NotFound, "no such artifact")));
    assert.deepEqual([failing.errors.length, failing.refused.length, failing.unplaced], [1, 0, 1], "an error that is not a refusal is not retried elsewhere");
  });
});
