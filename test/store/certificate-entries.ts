// Synthetic certificate entries for the certificate contract (and its other thread), and the events an edge makes of a renewal's sync.
import type { AuditEvent, CertificateChange, CertificateEntry } from "../../src/store/index.ts";

export const DAY = 86_400_000;
export const NOW = new Date("2026-06-01T12:00:00.000Z");

/** A synthetic entry: the store never parses the PEM, it keeps what an inventory read. */
export function entry(serialHex: string, overrides: Partial<CertificateEntry> = {}): CertificateEntry {
  return {
    fingerprint256: `FP:${serialHex.toUpperCase()}`,
    serialHex,
    use: "viewer-server",
    name: "viewer-shop",
    source: "issued",
    recordedState: "active",
    subject: `CN=${serialHex}`,
    issuer: "CN=Moat Intermediate",
    sans: ["DNS:shop.example"],
    certificatePem: `-----BEGIN CERTIFICATE-----\n${serialHex}\n-----END CERTIFICATE-----`,
    notBefore: new Date(NOW.getTime() - DAY),
    notAfter: new Date(NOW.getTime() + 30 * DAY),
    ...overrides,
  };
}

/** The inventory after 0b (kept as next) replaced 0a. */
export const renewalEntries = (): CertificateEntry[] => [entry("0a", { recordedState: "retired" }), entry("0b")];

/** What an edge records of a sync: `certificate.rotate` of what became active in place of 0a, with the once-keys the edge gives it. */
export function rotationOf(changes: readonly CertificateChange[]): AuditEvent[] {
  return changes
    .filter((change) => change.after?.recordedState === "active" && change.before !== undefined && change.before.recordedState !== "active")
    .map((change) => {
      const serial = change.after?.serialHex as string;
      return { actor: "edge:edge-a", action: "certificate.rotate" as const, resource: `certificate/${serial}`, before: { serialHex: "0a" }, after: { serialHex: serial }, once: { keys: [`certificate.rotate/${serial}`, "certificate.replaced/0a"], unless: [`certificate.replaced/${serial}`] } };
    });
}
