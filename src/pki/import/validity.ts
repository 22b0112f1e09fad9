// Time: every certificate of the chain must be valid now, and how close the leaf is to expiry (the 30/7/1-day warnings).
import { CertificateImportError } from "../../errors.ts";
import { certName, type ParsedCert } from "./parsed-cert.ts";
import type { ExpiryWarning } from "./types.ts";

const DAY_MS = 86_400_000;
// Tightest first: the first threshold crossed is the one to report.
const THRESHOLDS_DAYS = [1, 7, 30] as const;

function days(ms: number): string {
  const count = Math.floor(Math.abs(ms) / DAY_MS);
  return count === 1 ? "1 day" : `${count} days`;
}

function checkOne(cert: ParsedCert, isLeaf: boolean, now: Date): void {
  const { validFromDate: notBefore, validToDate: notAfter } = cert.node;
  const renew = isLeaf ? "renew it with the CA and import the renewed certificate" : "download the CA's current chain and import it with the certificate";
  if (now.getTime() < notBefore.getTime()) {
    throw new CertificateImportError(
      "import-not-yet-valid",
      `${certName(cert)} is not valid until ${notBefore.toISOString()} (in ${days(notBefore.getTime() - now.getTime())}; now is ${now.toISOString()}).`,
      { fix: "check this host's clock; if it is right, import the certificate once it is valid" },
    );
  }
  // RFC 5280 §4.1.2.5: the certificate is valid through notAfter, inclusive.
  if (now.getTime() > notAfter.getTime()) {
    throw new CertificateImportError(
      "import-expired",
      `${certName(cert)} expired at ${notAfter.toISOString()} (${days(now.getTime() - notAfter.getTime())} ago; now is ${now.toISOString()}).`,
      { fix: `${renew}; if it should still be valid, check this host's clock` },
    );
  }
}

/** Throws import-not-yet-valid or import-expired for the first certificate (leaf first) that is not valid at `now`. */
export function checkValidity(path: readonly ParsedCert[], now: Date): void {
  path.forEach((cert, index) => checkOne(cert, index === 0, now));
}

/** The tightest of the 30/7/1-day thresholds that `now` has reached before `notAfter`; null with more than 30 days left. */
export function expiryWarning(notAfter: Date, now: Date): ExpiryWarning | null {
  const leftMs = notAfter.getTime() - now.getTime();
  const thresholdDays = THRESHOLDS_DAYS.find((threshold) => leftMs <= threshold * DAY_MS);
  if (thresholdDays === undefined) return null;
  return { thresholdDays, daysLeft: Math.floor(leftMs / DAY_MS) };
}
