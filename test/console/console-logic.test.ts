// The console's own logic, without a browser: which field an API issue names, the distribution form both ways, traffic rates, the order of certificate groups and of edges.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeRows, pageGroups } from "../../src/console/components/paging.ts";
import { groupCertificates } from "../../src/console/pages/certificate-groups.ts";
import { fieldKey, toDocument, toForm } from "../../src/console/pages/distribution-document.ts";
import { orderEdges } from "../../src/console/pages/fleet-order.ts";
import type { Edge } from "../../src/console/pages/fleet-order.ts";
import { rates } from "../../src/console/pages/traffic-rates.ts";
import type { Certificate, DistributionItem } from "../../src/sdk/index.ts";

describe("console: pages of 50 rows", () => {
  test("groups fill a page up to 50 rows and are never split; one larger than 50 is a page alone", () => {
    const groups = [20, 20, 20, 60, 1, 49, 1].map((rows, index) => ({ index, rows }));
    const pages = pageGroups(groups, (group) => group.rows);
    assert.deepEqual(pages.map((page) => page.map((group) => group.index)), [[0, 1], [2], [3], [4, 5], [6]]);
    assert.deepEqual(pageGroups([], (group: { rows: number }) => group.rows), []);
  });
  test("a page says which rows it holds", () => {
    assert.equal(describeRows(0, 50), "rows 1–50");
    assert.equal(describeRows(1, 5, 55), "rows 51–55 of 55");
    assert.equal(describeRows(2, 0), "no rows");
  });
});

describe("console: an API issue's field", () => {
  test("a body issue by its JSON Pointer, a config issue by its path within the distribution", () => {
    assert.equal(fieldKey({ path: "origins[0].url", message: "m", pointer: "/origins/0/url" }), "origins.0.url");
    assert.equal(fieldKey({ path: "a", message: "m", pointer: "/behaviors/1/path~1x" }), "behaviors.1.path/x");
    assert.equal(fieldKey({ path: "distributions[3].aliases[0]", message: "m" }), "aliases.0");
    assert.equal(fieldKey({ path: "paths[2]", message: "m", pointer: "/paths/2" }), "paths.2");
    assert.equal(fieldKey({ path: "", message: "m" }), "");
  });
});

describe("console: the distribution form", () => {
  const stored = {
    id: "shop",
    aliases: ["shop.example", "www.shop.example"],
    viewerCertificate: { imported: "shop-ev" },
    tls: { minVersion: "TLSv1.3" },
    viewerMtls: { mode: "optional", trustStore: "partners", forward: { rfc9440: true } },
    origins: [
      { id: "app", url: "https://app.internal:8443", mtls: { clientCertificate: { issuedBy: "moat" }, trustedCa: "/etc/ca.pem" }, timeouts: { connect: "5s" } },
      { id: "old", url: "https://old.internal", mtls: { clientCertificate: "none" } },
    ],
    behaviors: [{ path: "/api/*", target: "app" }],
  } as unknown as DistributionItem["document"];

  test("what the form does not show comes back as it was; what it shows, as edited", () => {
    const form = toForm(stored);
    assert.equal(form.aliases, "shop.example\nwww.shop.example");
    assert.equal(form.viewer, "imported");
    assert.deepEqual(form.origins.map((origin) => origin.client), ["moat", "none"]);
    assert.deepEqual(JSON.parse(form.extra), { viewerMtls: { forward: { rfc9440: true } }, behaviors: [{ path: "/api/*", target: "app" }] });
    assert.deepEqual(toDocument(form).document, stored, "unchanged form, unchanged document");

    const edited = { ...form, aliases: "shop.example, new.example", origins: [{ ...form.origins[0]!, url: "https://app2.internal" }] };
    const { document } = toDocument(edited);
    assert.deepEqual(document?.aliases, ["shop.example", "new.example"]);
    assert.deepEqual(document?.origins, [{ id: "app", url: "https://app2.internal", mtls: { clientCertificate: { issuedBy: "moat" }, trustedCa: "/etc/ca.pem" }, timeouts: { connect: "5s" } }]);
  });

  test("a new distribution: Moat issues its certificates; JSON that does not parse is the one thing the console itself refuses", () => {
    const form = { ...toForm(undefined), id: "blog", aliases: "blog.example" };
    assert.deepEqual(toDocument(form).document, { id: "blog", aliases: ["blog.example"], viewerCertificate: { issuedBy: "moat" }, origins: [{ id: "app", url: "https://", mtls: { clientCertificate: { issuedBy: "moat" } } }] });
    assert.match(toDocument({ ...form, extra: "{ behaviors: " }).extraError ?? "", /is not JSON/);
    assert.match(toDocument({ ...form, extra: "[]" }).extraError ?? "", /must be a JSON object/);
  });
});

describe("console: traffic between two reads", () => {
  const row = (requests: number, cache: Record<string, number>, originFailures: Record<string, number> = {}) => ({ distribution: "shop", requests, cache, status: {}, originFailures });
  test("requests per second, and the hit ratio of what went through the cache (hit…, stale…, revalidated)", () => {
    const before = { at: 10_000, rows: new Map([["shop", row(100, { hit: 50, miss: 40, none: 10 })]]) };
    const after = { at: 12_000, rows: new Map([["shop", row(120, { hit: 60, "hit-collapsed": 2, "stale-if-error": 1, revalidated: 1, miss: 42, "miss-stored": 2, none: 12 }, { "origin-connect-timeout": 3 })]]) };
    const [shop] = rates(before, after);
    assert.equal(shop?.rps, 10);
    // 18 through the cache (20 less 2 with none), of which 14 served from it.
    assert.equal(shop?.hitRatio, 14 / 18);
    assert.deepEqual(shop?.failures, { "origin-connect-timeout": 3 });
  });
  test("nothing through the cache: no ratio rather than 0 %", () => {
    const [shop] = rates({ at: 0, rows: new Map() }, { at: 1_000, rows: new Map([["shop", row(5, { none: 5 })]]) });
    assert.equal(shop?.hitRatio, undefined);
    assert.equal(shop?.rps, 5);
  });
});

describe("console: what comes first", () => {
  const day = 86_400_000;
  const certificate = (name: string, serialHex: string, state: string, notAfterDays: number, edge: string | null = "edge-1") =>
    ({ name, serialHex, state, use: "origin-client", edge, notBefore: new Date(0).toISOString(), notAfter: new Date(Date.now() + notAfterDays * day).toISOString() }) as unknown as Certificate;

  test("certificate groups by edge, use and name; the one whose certificate in use expires soonest on top (a retired one that expires sooner does not count)", () => {
    const groups = groupCertificates([
      certificate("shop/app", "a1", "retired", 1),
      certificate("shop/app", "a2", "active", 20),
      certificate("blog/app", "b1", "active", 5),
      certificate("blog/app", "b2", "active", 6, "edge-2"),
    ]);
    assert.deepEqual(groups.map((group) => `${group.edge}/${group.name}:${group.certificates.map((item) => item.serialHex).join(",")}`), ["edge-1/blog/app:b1", "edge-2/blog/app:b2", "edge-1/shop/app:a1,a2"]);
  });

  test("edges: silent, behind and gone, then stopped, before ok; then the soonest certificate expiry; then the name", () => {
    const edge = (name: string, health: string, expiresDays: number | null) => ({ name, health, certificatesExpireAt: expiresDays === null ? null : new Date(Date.now() + expiresDays * day).toISOString() }) as unknown as Edge;
    const ordered = orderEdges([edge("a", "ok", 30), edge("b", "ok", 2), edge("c", "behind", 90), edge("d", "silent", null), edge("e", "gone", 1), edge("f", "ok", null), edge("g", "ok", null), edge("h", "stopped", 1)]);
    assert.deepEqual(ordered.map((item) => item.name), ["d", "c", "e", "h", "b", "a", "f", "g"]);
  });
});
