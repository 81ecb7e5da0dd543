/** The reply memory of an invocation server (nats/recent-replies.ts). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RecentReplies } from "../src/nats/recent-replies.js";

const reply = Promise.resolve(new Uint8Array());

describe("recent replies", () => {
  it("keeps a reply until its deadline, then lets it go", () => {
    const r = new RecentReplies(100);
    const now = Date.now();
    r.add("old", { reply, until: now - 1, call: "s", args: [] });
    r.add("live", { reply, until: now + 60_000, call: "s", args: [] });
    assert.equal(r.get("old"), undefined, "dropped when the next one came");
    assert.ok(r.get("live"));
  });

  it("keeps at most its limit, the oldest going first", () => {
    const r = new RecentReplies(1_000);
    const until = Date.now() + 60_000;
    for (let i = 0; i < 50_000; i++) r.add(`c${i}`, { reply, until, call: "s", args: [] });
    assert.equal(r.get("c48999"), undefined);
    assert.ok(r.get("c49000"));
    assert.ok(r.get("c49999"));
  });

  it("a call id added again after it expired is not dropped with its old entry", () => {
    const r = new RecentReplies(10);
    const now = Date.now();
    r.add("x", { reply, until: now - 1, call: "s", args: [] });
    const fresh = { reply, until: now + 60_000, call: "s", args: [] };
    r.add("x", fresh);
    r.add("y", { reply, until: now + 60_000, call: "s", args: [] });
    assert.equal(r.get("x"), fresh);
  });
});
