// When an issued certificate is due for renewal: a fraction of its life, less a jitter that spreads a fleet's renewals.
import { createHash } from "node:crypto";

/** At most this share of a certificate's life is taken off its renewal point as jitter. */
export const RENEWAL_JITTER_FRACTION = 0.1;

/**
 * The time to renew a certificate: `notBefore + life × (renewAtFraction − jitter)`. The jitter
 * (0 to 10% of the life) comes from a hash of the serial, so every process that looks at the same
 * certificate (the store deciding whether to reuse it, the scheduler deciding when to wake up)
 * agrees on the time, while different certificates, and different edges of a fleet, spread out.
 * @example
 * renewalTime({ notBefore, notAfter, serialHex: "0a1b" }, 2 / 3); // a Date about 60–67% into the life
 */
export function renewalTime(certificate: { notBefore: Date; notAfter: Date; serialHex: string }, renewAtFraction: number): Date {
  const start = certificate.notBefore.getTime();
  const lifeMs = certificate.notAfter.getTime() - start;
  const jitter = serialJitter(certificate.serialHex) * RENEWAL_JITTER_FRACTION;
  return new Date(start + Math.floor(lifeMs * (renewAtFraction - jitter)));
}

/** A stable number in [0, 1) for a serial. */
function serialJitter(serialHex: string): number {
  const digest = createHash("sha256").update(serialHex).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** The states in which Moat still renews a certificate it issued: in use, waiting its turn, or not valid yet. */
const RENEWED_STATES: ReadonlySet<string> = new Set(["active", "next", "not-yet-valid"]);

/**
 * When Moat will renew `certificate`: its renewalTime for one Moat issued that is still to be used (active, next or not
 * yet valid); null for one imported (its owner renews it elsewhere) or retired, revoked or expired (never renewed). A
 * time in the past means the renewal is due: the edge that holds it does it at its next check.
 * @example
 * renewsAt({ source: "issued", state: "active", notBefore, notAfter, serialHex: "0a1b" }, 2 / 3); // a Date
 * renewsAt({ source: "imported", state: "active", notBefore, notAfter, serialHex: "0a1b" }, 2 / 3); // null
 */
export function renewsAt(certificate: { source: "issued" | "imported"; state: string; notBefore: Date; notAfter: Date; serialHex: string }, renewAtFraction: number): Date | null {
  if (certificate.source !== "issued" || !RENEWED_STATES.has(certificate.state)) return null;
  return renewalTime(certificate, renewAtFraction);
}
