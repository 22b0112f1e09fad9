// Shared by the config tests: the sketch from the config format's description, and helpers to assert on issues.

import assert from "node:assert/strict";
import { parse } from "yaml";
import { ConfigInvalidError, type ConfigIssue } from "../../src/errors.ts";
import { parseConfig } from "../../src/config/index.ts";

export const SKETCH_YAML = `
dataDir: ./state
pki:
  trustDomain: moat.internal
  keyAlgorithm: ecdsa-p384
  clientCertValidity: 12h
  serverCertValidity: 30d
  masterKeyFile: ./master.key
  ca: { autoRotate: false, intermediateValidity: 365d, rolloverOverlap: 7d }
listen: { host: 127.0.0.1, https: 9443, http: off }
distributions:
  - id: shop
    aliases: [Shop.Example.Test, "*.cdn.example.test"]
    viewerCertificate: { cert: ./shop.pem, key: ./shop.key }
    tls: { minVersion: TLSv1.3 }
    origins:
      - id: api
        url: https://API.internal:9443/optional/base/path/
        mtls:
          clientCertificate: { issuedBy: moat }
          trustedCa: ./origin-ca.pem
          serverName: api.internal
        timeouts: { connect: 250ms, response: 1m }
      - id: api-dr
        url: https://api-dr.internal
        mtls: { clientCertificate: none }
    originGroups:
      - { id: api-ha, members: [api, api-dr] }
    behaviors:
      - { path: "*", target: api-ha }
      - { path: /static/*, target: api, allowedMethods: [HEAD, GET] }
  - id: blog
    aliases: [blog.example.test]
    origins:
      - id: web
        url: https://10.0.0.7:8443
`;

/** A fresh copy of the sketch, parsed, to mutate in a test. */
export function sketch(): any {
  return parse(SKETCH_YAML);
}

/** The smallest valid document: one distribution, one origin. */
export function minimal(): any {
  return { distributions: [{ id: "shop", aliases: ["shop.example.test"], origins: [{ id: "api", url: "https://api.internal" }] }] };
}

/** The issues parseConfig reports for `document`; fails the test if it parses. */
export function issuesOf(document: unknown): readonly ConfigIssue[] {
  try {
    parseConfig(document, { source: "test", baseDir: "/etc/moat", env: {} });
  } catch (error) {
    assert.ok(error instanceof ConfigInvalidError, `expected ConfigInvalidError, got ${String(error)}`);
    assert.equal(error.code, "config-invalid");
    return error.issues;
  }
  assert.fail("expected the document to be invalid");
}

/** Asserts exactly one issue at `path`, whose message includes every one of `words`. */
export function assertIssue(issues: readonly ConfigIssue[], path: string, ...words: string[]): void {
  const atPath = issues.filter((issue) => issue.path === path);
  assert.equal(atPath.length, 1, `expected one issue at ${path}, got:\n${JSON.stringify(issues, null, 2)}`);
  for (const word of words) assert.ok(atPath[0]?.message.includes(word), `"${atPath[0]?.message}" should mention "${word}"`);
}

/** The one issue of a document that should have exactly one, checked for path and words. */
export function assertOnlyIssue(document: unknown, path: string, ...words: string[]): void {
  const issues = issuesOf(document);
  assert.equal(issues.length, 1, `expected exactly one issue, got:\n${JSON.stringify(issues, null, 2)}`);
  assertIssue(issues, path, ...words);
}
