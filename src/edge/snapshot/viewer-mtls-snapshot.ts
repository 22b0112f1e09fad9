// Builds the viewer mTLS part of a snapshot: each trust store a distribution names, loaded once, and the secure-context options that make OpenSSL verify viewers against it.
import { constants, createHash } from "node:crypto";
import type { DistributionConfig, MoatConfig } from "../../config/index.ts";
import { TrustStoreInvalidError } from "../../errors.ts";
import { loadTrustStore } from "../../tls/index.ts";
import type { LoadedTrustStore } from "../../tls/index.ts";
import type { DistributionRuntime, ViewerMtlsRuntime } from "./edge-snapshot.ts";

/**
 * No renegotiation on any viewer connection: TLS 1.3 has none, and under TLS 1.2 a renegotiation
 * could swap the certificate a connection was judged on (and HTTP/2 forbids it, RFC 9113 §9.2.1).
 * A server option: Node takes only the certificate, key, chain and CAs from the context SNI picks.
 */
export const VIEWER_SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION;

/** Loads every trust store some distribution uses; throws TrustStoreInvalidError naming the entry. */
export async function loadUsedTrustStores(config: MoatConfig, now: Date): Promise<ReadonlyMap<string, LoadedTrustStore>> {
  const used = new Set(config.distributions.map((d) => d.viewerMtls.trustStore).filter((name) => name !== null));
  const loaded = new Map<string, LoadedTrustStore>();
  for (const store of config.trustStores) {
    if (used.has(store.name)) loaded.set(store.name, await loadTrustStore(store, now));
  }
  return loaded;
}

export function viewerMtlsRuntime(distribution: DistributionConfig, stores: ReadonlyMap<string, LoadedTrustStore>, trustDomain: string): ViewerMtlsRuntime {
  const { mode, trustStore, forward, edgesOnly } = distribution.viewerMtls;
  const store = trustStore === null ? null : stores.get(trustStore);
  // The config validator guarantees that a named store exists, and loadUsedTrustStores loaded it.
  if (store === undefined) throw new Error(`bug: trust store ${trustStore} of distribution ${distribution.id} not loaded`);
  // The identity Moat's CA gives this distribution's edges (pki/names.ts originSpiffeId), up to the origin id.
  const edgeIdentityPrefix = edgesOnly ? `spiffe://${trustDomain}/distribution/${distribution.id}/origin/` : null;
  return Object.freeze({ mode, trustStore: store, forward, edgeIdentityPrefix });
}

/**
 * What a distribution's secure context adds to verify viewers: its CAs (also named in the
 * CertificateRequest) and CRLs. When SNI picks the context, Node hands its certificate store (with
 * the CRL-check flags that `crl` turns on) to OpenSSL for this connection's verification.
 */
export function verifyingContextOptions(runtime: ViewerMtlsRuntime): { ca?: string; crl?: readonly string[] } {
  if (!runtime.trustStore) return {};
  const { caPem, crlPems } = runtime.trustStore;
  return { ca: caPem, ...(crlPems.length ? { crl: crlPems } : {}) };
}

/** Changes when any distribution's mode or CA set changes; CRL updates leave it as it was. */
export function viewerPolicyId(distributions: readonly DistributionRuntime[]): string {
  const parts = distributions.map((d) => `${d.id}:${d.viewerMtls.mode}:${d.viewerMtls.trustStore?.caSetId ?? "-"}`).sort();
  return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 32);
}

/**
 * Every trust store's refusal (config path, file, entry, fix), as the edge would refuse it; empty when all load. For `moat config check`.
 * @example
 * for (const problem of await checkTrustStores(config, new Date())) console.error(problem);
 */
export async function checkTrustStores(config: MoatConfig, now: Date): Promise<string[]> {
  const problems: string[] = [];
  for (const store of config.trustStores) {
    try {
      await loadTrustStore(store, now);
    } catch (error) {
      if (!(error instanceof TrustStoreInvalidError)) throw error;
      problems.push(error.message);
    }
  }
  return problems;
}
