// Every certificate a snapshot serves, presents or trusts, with its not-after: what the metrics' certificate gauge shows.
import { X509Certificate } from "node:crypto";
import type { CertificateInUse, EdgeMetricsSources } from "../../observe/index.ts";
import type { CertificateAuthority } from "../../pki/index.ts";
import type { BuiltSnapshot } from "./build-snapshot.ts";

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Viewer server certificates by distribution, origin client certificates by distribution and origin, and the CA's
 * roots (two during a rollover) and intermediates (the current one and earlier ones still valid).
 * @example
 * edgeMetrics?.snapshotApplied(built.snapshot.generation, certificatesInUse(built, ca));
 */
export function certificatesInUse(built: Pick<BuiltSnapshot, "origins" | "viewerCertificates">, ca: CertificateAuthority): CertificateInUse[] {
  const certificates: CertificateInUse[] = built.viewerCertificates.map((viewer) => ({ distribution: viewer.distribution, origin: "", role: "viewer-server", serialHex: viewer.serialHex, notAfter: viewer.notAfter }));
  for (const entry of built.origins.values()) {
    const presented = entry.issued ?? entry.imported;
    if (presented === null) continue;
    certificates.push({ distribution: entry.client.context.distributionId, origin: entry.client.originId, role: "origin-client", serialHex: presented.serialHex, notAfter: presented.notAfter });
  }
  const seen = new Set<string>();
  const addCa = (pem: string, role: "ca-root" | "ca-intermediate") => {
    for (const block of pem.match(PEM_BLOCK) ?? []) {
      const certificate = new X509Certificate(block);
      const serialHex = certificate.serialNumber.toLowerCase();
      if (seen.has(serialHex)) continue;
      seen.add(serialHex);
      certificates.push({ distribution: "", origin: "", role, serialHex, notAfter: certificate.validToDate });
    }
  };
  addCa(ca.bundlePem, "ca-root");
  addCa(ca.intermediatePem, "ca-intermediate");
  for (const pem of ca.previousIntermediatePems) addCa(pem, "ca-intermediate");
  return certificates;
}

/** The origin pools of a snapshot, read at a scrape. */
export function* originPoolsOf(built: Pick<BuiltSnapshot, "origins">): ReturnType<NonNullable<EdgeMetricsSources["originPools"]>> {
  for (const entry of built.origins.values()) yield { distribution: entry.client.context.distributionId, origin: entry.client.originId, stats: entry.client.poolStats() };
}
