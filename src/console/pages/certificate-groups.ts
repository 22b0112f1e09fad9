// The certificates page's grouping: one group per thing a certificate is for (edge, use, name), its generations inside, the one expiring soonest first.
import type { Certificate } from "../api/types.ts";

export interface Group {
  key: string;
  name: string;
  use: Certificate["use"];
  edge: string | null;
  certificates: Certificate[];
  /** When the one in use expires: what orders the groups. */
  expiresAt: number;
}

/** By edge, use and name: one group is one thing a certificate is for, its generations the rotations. */
export function groupCertificates(certificates: readonly Certificate[]): Group[] {
  const groups = new Map<string, Group>();
  for (const certificate of certificates) {
    const key = `${certificate.edge ?? "ca"}/${certificate.use}/${certificate.name}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { key, name: certificate.name, use: certificate.use, edge: certificate.edge, certificates: [], expiresAt: Infinity }));
    group.certificates.push(certificate);
  }
  for (const group of groups.values()) {
    const inUse = group.certificates.filter((certificate) => certificate.state === "active");
    const candidates = inUse.length > 0 ? inUse : group.certificates;
    group.expiresAt = Math.min(...candidates.map((certificate) => Date.parse(certificate.notAfter)));
  }
  return [...groups.values()].sort((a, b) => a.expiresAt - b.expiresAt || a.key.localeCompare(b.key));
}
