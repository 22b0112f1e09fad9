// What the CA node signs for a joined edge: exactly what the config gives an edge (a distribution's aliases, an origin's identity), within the config's validity.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { loadConfigDocument } from "../../src/config/index.ts";
import type { MoatConfig } from "../../src/config/index.ts";
import { entitlementProblem } from "../../src/control/index.ts";

const DAY = 86_400_000;
let config: MoatConfig;

before(async () => {
  config = await loadConfigDocument(
    {
      dataDir: "/var/lib/moat",
      pki: { trustDomain: "moat.internal", serverCertValidity: "30d", clientCertValidity: "24h" },
      distributions: [
        { id: "shop", aliases: ["shop.example", "WWW.shop.example"], origins: [{ id: "app", url: "https://app.internal:8443" }, { id: "legacy", url: "https://legacy.internal", mtls: { clientCertificate: "none" } }], behaviors: [{ path: "*", target: "app" }] },
        { id: "blog", aliases: ["blog.example"], viewerCertificate: { imported: "blog-ev" }, origins: [{ id: "app", url: "https://blog.internal" }] },
      ],
    },
    { source: "test", baseDir: "/", isStored: true },
  );
});

const viewer = (dnsNames: string[], ipAddresses: string[] = []) => ({ use: "viewer-server" as const, dnsNames, ipAddresses });
const client = (distributionId: string, originId: string, trustDomain = "moat.internal") => ({ use: "origin-client" as const, trustDomain, distributionId, originId });

test("a viewer certificate: exactly one distribution's aliases (in any order and case), issued by Moat, within its validity", () => {
  assert.equal(entitlementProblem(config, viewer(["www.shop.example", "shop.example"]), 30 * DAY), undefined);
  assert.match(entitlementProblem(config, viewer(["shop.example"]), DAY) ?? "", /no distribution of the current config has exactly these aliases/);
  assert.match(entitlementProblem(config, viewer(["shop.example", "www.shop.example", "evil.example"]), DAY) ?? "", /exactly these aliases/);
  assert.match(entitlementProblem(config, viewer(["blog.example"]), DAY) ?? "", /with a certificate issued by Moat \(blog\.example\)/, "an imported viewer certificate is not Moat's to issue");
  assert.match(entitlementProblem(config, viewer(["shop.example", "www.shop.example"], ["127.0.0.1"]), DAY) ?? "", /never an IP address/);
  assert.match(entitlementProblem(config, viewer(["shop.example", "www.shop.example"]), 31 * DAY) ?? "", /more than pki\.serverCertValidity/);
});

test("an origin client certificate: a distribution's origin that presents Moat's certificate, in the config's trust domain, within its validity", () => {
  assert.equal(entitlementProblem(config, client("shop", "app"), DAY), undefined);
  assert.equal(entitlementProblem(config, client("blog", "app"), DAY), undefined);
  assert.match(entitlementProblem(config, client("shop", "legacy"), DAY) ?? "", /does not present a certificate issued by Moat/);
  assert.match(entitlementProblem(config, client("shop", "nope"), DAY) ?? "", /distribution shop has no origin nope/);
  assert.match(entitlementProblem(config, client("nope", "app"), DAY) ?? "", /no distribution nope/);
  assert.match(entitlementProblem(config, client("shop", "app", "other.internal"), DAY) ?? "", /the trust domain other\.internal is not the config's \(moat\.internal\)/);
  assert.match(entitlementProblem(config, client("shop", "app"), 2 * DAY) ?? "", /more than pki\.clientCertValidity/);
});
