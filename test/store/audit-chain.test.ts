// The audit chain's canonical encoding against RFC 8785's own examples, and a record's hash from the documented encoding.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { createChainWalk } from "../../src/store/audit-chain.ts";
import { auditRecordHash, canonicalJson, GENESIS_HASH } from "../../src/store/index.ts";

test("canonicalJson is RFC 8785: the sorting example of §3.2.3 and the serialisation example of §3.2.2", () => {
  const sorting = JSON.parse('{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}');
  // Read the order from the text itself: a parsed object would put the integer-like key "1" first whatever the text says.
  const order = [...canonicalJson(sorting).matchAll(/"([^"]*)":"([^"]*)"/g)].map((match) => match[2]);
  assert.deepEqual(order, ["Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis", "Euro Sign", "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh"]);
  const input = JSON.parse('{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}');
  assert.equal(canonicalJson(input), '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  assert.throws(() => canonicalJson({ n: Number.NaN }), /finite/);
});

test("a record's hash is SHA-256 of the canonical JSON of its ten fields (the docs' worked example)", () => {
  const record = {
    seq: 1,
    at: "2026-12-05T12:00:00.000Z",
    actor: "cli:alice",
    action: "config.put" as const,
    resource: "distribution/shop",
    distribution: "shop",
    revision: 1,
    before: null,
    after: { id: "shop", aliases: ["shop.example"], origins: [{ id: "app", url: "https://app.internal:8443" }] },
    prevHash: GENESIS_HASH,
  };
  const text = '{"action":"config.put","actor":"cli:alice","after":{"aliases":["shop.example"],"id":"shop","origins":[{"id":"app","url":"https://app.internal:8443"}]},"at":"2026-12-05T12:00:00.000Z","before":null,"distribution":"shop","prevHash":"0000000000000000000000000000000000000000000000000000000000000000","resource":"distribution/shop","revision":1,"seq":1}';
  assert.equal(auditRecordHash(record), createHash("sha256").update(text).digest("hex"));
  // The value docs/explanation/audit-trail.md prints for this example.
  assert.equal(auditRecordHash(record), "0ec05f1a6feaece6fa60a75942d711f7d947ac80aa4ce2b78a0039e880e0746f");
  // Every field counts: a change to any one gives another hash.
  const changed = [{ seq: 2 }, { at: "2026-12-05T12:00:00.001Z" }, { actor: "cli:bob" }, { action: "config.remove" as const }, { resource: "distribution/blog" }, { distribution: null }, { revision: 2 }, { before: {} }, { after: null }, { prevHash: "1".repeat(64) }];
  for (const change of changed) assert.notEqual(auditRecordHash({ ...record, ...change }), auditRecordHash(record), JSON.stringify(change));
});

test("a record numbered 0 (or below), forged with a correct hash, is reported as inserted", () => {
  const unhashed = { seq: 0, at: "2026-12-05T12:00:00.000Z", actor: "cli:mallory", action: "config.put" as const, resource: "distribution/evil", distribution: "evil", revision: null, before: null, after: null, prevHash: GENESIS_HASH };
  const problem = createChainWalk().push({ ...unhashed, hash: auditRecordHash(unhashed) });
  assert.deepEqual([problem?.seq, problem?.kind], [0, "inserted"]);
});
