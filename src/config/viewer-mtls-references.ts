// Viewer mTLS rules that span entries: a mode's trust store must exist (and only the modes that verify take one), and a behavior may require a certificate only where one is verified.

import type { ConfigIssue } from "../errors.ts";
import { issueAt, type IssuePath } from "./issues.ts";
import { fieldOf, isMapping, listOf, stringOf } from "./raw.ts";
import { didYouMean } from "./suggest.ts";
import { VIEWER_MTLS_MODES } from "./viewer-mtls-schema.ts";

const VERIFYING_MODES = new Set(["optional", "required"]);

/** Every viewer mTLS issue of a (raw) document; anything malformed is left to the schema. */
export function checkViewerMtlsReferences(document: unknown): ConfigIssue[] {
  const stores = fieldOf(document, "trustStores");
  const storeNames = isMapping(stores) ? Object.keys(stores) : [];
  return listOf(document, "distributions").flatMap((distribution, index) => {
    const path = ["distributions", index];
    const viewerMtls = fieldOf(distribution, "viewerMtls");
    const mode = viewerMtls === undefined ? "off" : stringOf(viewerMtls, "mode");
    // An unknown or missing mode is the schema's to report; rules that depend on it wait for a valid one.
    if (!(VIEWER_MTLS_MODES as readonly (string | undefined)[]).includes(mode)) return [];
    if (mode === undefined) return [];
    return [
      ...checkTrustStore(fieldOf(distribution, "viewerMtls"), [...path, "viewerMtls"], mode, storeNames),
      ...checkBehaviors(distribution, path, mode),
      ...checkEdgesOnly(fieldOf(distribution, "viewerMtls"), [...path, "viewerMtls"], mode),
      ...checkShieldName(distribution, path),
    ];
  });
}

function checkTrustStore(viewerMtls: unknown, path: IssuePath, mode: string, storeNames: readonly string[]): ConfigIssue[] {
  const store = fieldOf(viewerMtls, "trustStore");
  if (VERIFYING_MODES.has(mode)) {
    if (store === undefined) return [issueAt([...path, "trustStore"], `required with mode ${mode}: the name of a trustStores entry whose CAs verify viewers`)];
    if (typeof store !== "string" || storeNames.includes(store)) return [];
    const known = storeNames.length ? didYouMean(store, storeNames) : "; define it under trustStores";
    return [issueAt([...path, "trustStore"], `no trust store "${store}"${known}`)];
  }
  if (store === undefined || !isMapping(viewerMtls)) return [];
  const why = mode === "passthrough" ? "passthrough hands every certificate to the origin unverified" : "mode off asks viewers for no certificate";
  return [issueAt([...path, "trustStore"], `${why}: remove trustStore, or use mode optional or required`)];
}

function checkBehaviors(distribution: unknown, path: IssuePath, mode: string): ConfigIssue[] {
  if (VERIFYING_MODES.has(mode)) return [];
  return listOf(distribution, "behaviors").flatMap((behavior, index) => {
    if (fieldOf(behavior, "viewerMtls") !== "required") return [];
    const why = mode === "passthrough" ? "its viewerMtls.mode is passthrough, which verifies no certificate" : "its viewerMtls.mode is off, so viewers are asked for no certificate";
    return [issueAt([...path, "behaviors", index, "viewerMtls"], `a path can require a viewer certificate only on a distribution with viewerMtls.mode optional (or required); ${why}`)];
  });
}

// edgesOnly reads the identity of a verified certificate: without mode required a viewer could come without one.
function checkEdgesOnly(viewerMtls: unknown, path: IssuePath, mode: string): ConfigIssue[] {
  if (fieldOf(viewerMtls, "edgesOnly") !== true || mode === "required") return [];
  return [issueAt([...path, "edgesOnly"], `takes mode required (every edge presents its certificate), not ${mode}: set viewerMtls.mode to required, with a trust store holding Moat's CA bundle`)];
}

// The shield is asked for the distribution by SNI: a wildcard names no host to ask for.
function checkShieldName(distribution: unknown, path: IssuePath): ConfigIssue[] {
  const shield = fieldOf(distribution, "shield");
  if (!isMapping(shield) || fieldOf(shield, "serverName") !== undefined) return [];
  const first = listOf(distribution, "aliases")[0];
  if (typeof first !== "string" || !first.startsWith("*.")) return [];
  return [issueAt([...path, "shield", "serverName"], `required when the first alias is a wildcard (${first}): the host name the edge asks the shield for (SNI), one the distribution serves on the shield`)];
}
