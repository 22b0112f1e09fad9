// What may go into a certificate's names, and the one spelling of each: DNS names, IP addresses, SPIFFE IDs, store file names.
import { isIP } from "node:net";
import { CertificateRequestInvalidError } from "../errors.ts";

// RFC 1035 §2.3.1 labels (letters, digits, hyphen; 1-63 octets), with "_" allowed as
// real-world internal names use it; a single leading "*." wildcard (RFC 6125 §6.4.3).
const DNS_LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;
// SPIFFE ID spec §2.1: trust domain of lower-case letters, digits, ".", "-", "_".
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
// SPIFFE ID spec §2.2 path segment characters; we also require a leading letter or digit
// so that no segment is "." or ".." and each is safe as a directory name in the store.
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Lower-cases and checks a DNS name for a SAN; throws CertificateRequestInvalidError. */
export function normalizeDnsName(name: string): string {
  const lower = name.toLowerCase();
  const labels = lower.split(".");
  const body = labels[0] === "*" ? labels.slice(1) : labels;
  const isValid = lower.length <= 253 && body.length > 0 && body.every((label) => DNS_LABEL.test(label));
  if (!isValid) throw new CertificateRequestInvalidError(`"${name}" is not a valid DNS name for a certificate`);
  return lower;
}

/** Canonical text of an IP address (IPv6 compressed, as WHATWG URL prints it); throws CertificateRequestInvalidError. */
export function normalizeIpAddress(address: string): string {
  const family = isIP(address);
  if (family === 0) throw new CertificateRequestInvalidError(`"${address}" is not an IP address`);
  if (family === 4) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** The SPIFFE ID that names one origin of one distribution: the identity an origin's guard checks. */
export function originSpiffeId(trustDomain: string, distributionId: string, originId: string): string {
  if (!TRUST_DOMAIN.test(trustDomain)) {
    throw new CertificateRequestInvalidError(
      `"${trustDomain}" is not a valid SPIFFE trust domain (lower-case letters, digits, ".", "-", "_")`,
    );
  }
  checkSegment("distribution id", distributionId);
  checkSegment("origin id", originId);
  return `spiffe://${trustDomain}/distribution/${distributionId}/origin/${originId}`;
}

/**
 * The SPIFFE ID of an admin API client: `spiffe://<trust domain>/admin/<role>/<name>`. Under its own path, so no
 * edge identity (`/distribution/…`) can ever read as an admin one, nor the other way round.
 */
export function adminSpiffeId(trustDomain: string, role: string, name: string): string {
  if (!TRUST_DOMAIN.test(trustDomain)) {
    throw new CertificateRequestInvalidError(`"${trustDomain}" is not a valid SPIFFE trust domain (lower-case letters, digits, ".", "-", "_")`);
  }
  checkSegment("admin role", role);
  checkSegment("admin name", name);
  return `spiffe://${trustDomain}/admin/${role}/${name}`;
}

/** The role and name an admin SPIFFE ID of `trustDomain` carries, or undefined for any other URI. */
export function parseAdminSpiffeId(uri: string, trustDomain: string): { role: string; name: string } | undefined {
  const prefix = `spiffe://${trustDomain}/admin/`;
  if (!uri.startsWith(prefix)) return undefined;
  const [role, name, ...rest] = uri.slice(prefix.length).split("/");
  if (rest.length > 0 || role === undefined || name === undefined || !SEGMENT.test(role) || !SEGMENT.test(name)) return undefined;
  return { role, name };
}

/** Checks an id used in a SPIFFE path or as a file name in the store. */
export function checkSegment(what: string, value: string): string {
  if (!SEGMENT.test(value)) {
    throw new CertificateRequestInvalidError(
      `${what} "${value}" must start with a letter or digit and contain only letters, digits, ".", "-", "_" (at most 128)`,
    );
  }
  return value;
}

/** Checks a validity period: a positive, finite number of milliseconds. */
export function checkValidityMs(validityMs: number): number {
  if (!Number.isFinite(validityMs) || validityMs <= 0) {
    throw new CertificateRequestInvalidError(`validityMs must be a positive number of milliseconds, got ${validityMs}`);
  }
  return validityMs;
}
