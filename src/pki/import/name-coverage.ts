// Checks that the leaf's SANs cover every alias it will serve, matching as browsers do (RFC 6125 §6.4): exact, or a one-label wildcard.
import { isIP } from "node:net";
import { CertificateImportError } from "../../errors.ts";
import { normalizeIpAddress } from "../names.ts";

/** DNS names compare case-insensitively and without a trailing root dot (RFC 4343). */
function normalizeDns(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/**
 * Whether a DNS SAN covers a host name. RFC 6125 §6.4.3 as browsers apply it: `*` only as the
 * whole left-most label, standing for exactly one label, so `*.x.test` covers `a.x.test` but
 * neither `x.test` nor `a.b.x.test`. An alias that is itself a wildcard is covered only by the
 * same wildcard: `*.x.test` cannot serve every name under it otherwise.
 */
export function dnsSanCovers(san: string, alias: string): boolean {
  if (san === alias) return true;
  if (!san.startsWith("*.") || alias.startsWith("*.")) return false;
  const dot = alias.indexOf(".");
  return dot > 0 && alias.slice(dot + 1) === san.slice(2);
}

function isCovered(alias: string, dnsSans: readonly string[], ipSans: readonly string[]): boolean {
  if (isIP(alias) !== 0) return ipSans.includes(normalizeIpAddress(alias));
  const name = normalizeDns(alias);
  return dnsSans.some((san) => dnsSanCovers(san, name));
}

/**
 * The check of a leaf's SANs against the aliases it will serve, prepared once from its SANs (as
 * describeCertificate spells them) so that many distributions can ask about one certificate.
 * `check` throws import-names-not-covered, listing each alias no SAN covers. The subject CN is not
 * read: browsers ignore it (RFC 6125 §6.4.4).
 */
export function nameCoverage(leafName: string, sans: readonly string[]): { check(expectedNames: readonly string[]): void } {
  const dnsSans = sans.filter((san) => san.startsWith("DNS:")).map((san) => normalizeDns(san.slice(4)));
  const ipSans = sans.filter((san) => san.startsWith("IP Address:")).map((san) => san.slice("IP Address:".length));
  return {
    check(expectedNames) {
      const uncovered = expectedNames.filter((alias) => !isCovered(alias, dnsSans, ipSans));
      if (uncovered.length === 0) return;
      const names = [...dnsSans, ...ipSans];
      throw new CertificateImportError(
        "import-names-not-covered",
        `${leafName} does not cover ${uncovered.join(", ")}; its names are ${names.length > 0 ? names.join(", ") : "none"}.`,
        {
          fix: `get a certificate whose SANs include ${uncovered.join(", ")} (*.example.test covers a.example.test, but neither example.test nor a.b.example.test), or remove those aliases`,
          uncoveredNames: uncovered,
        },
      );
    },
  };
}
