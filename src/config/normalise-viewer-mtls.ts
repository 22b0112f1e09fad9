// Viewer mTLS from document to MoatConfig: trust store paths made absolute, CRLs as a list, forwarding defaults filled in.

import { resolve } from "node:path";
import type { TrustStoreDocument, ViewerMtlsDocument } from "./viewer-mtls-schema.ts";
import type { TrustStoreConfig, ViewerMtlsConfig } from "./types.ts";

// RFC 9440 fields are the standard an origin is most likely to read; Envoy's XFCC is opt-in.
const FORWARD_DEFAULTS = { moat: true, rfc9440: true, xfcc: false } as const;

export function normaliseTrustStores(stores: Record<string, TrustStoreDocument> | undefined, baseDir: string): TrustStoreConfig[] {
  return Object.entries(stores ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, store]) => ({
      name,
      caBundleFile: resolve(baseDir, store.caBundle),
      crlFiles: (store.crl === undefined ? [] : typeof store.crl === "string" ? [store.crl] : store.crl).map((file) => resolve(baseDir, file)),
      allowNoEku: store.allowNoEku ?? false,
    }));
}

export function normaliseViewerMtls(document: ViewerMtlsDocument | undefined): ViewerMtlsConfig {
  const mode = document?.mode ?? "off";
  return {
    mode,
    // references.ts refuses a trust store with off or passthrough, and requires one otherwise.
    trustStore: mode === "optional" || mode === "required" ? (document?.trustStore ?? null) : null,
    edgesOnly: mode === "required" && document?.edgesOnly === true,
    forward: { ...FORWARD_DEFAULTS, ...document?.forward },
  };
}
