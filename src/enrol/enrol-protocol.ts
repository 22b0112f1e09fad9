// The enrolment wire format (JSON over HTTPS) and the renewal proof: what client and server agree on, in one place.
import { createHash } from "node:crypto";
import { z } from "zod";

// Renewal is v2: its proof names the certificate it renews (renewalProofMessage). A v1 client gets a 404 naming the routes.
export const ENROL_PATHS = { enrol: "/v1/enrol", renew: "/v2/renew", trust: "/v1/trust" } as const;

/** At most this far apart may a renewal's signedAt and the server's clock be. */
export const PROOF_WINDOW_MS = 5 * 60_000;

const pem = (label: string) => z.string().max(32_768).refine((text) => text.includes(`-----BEGIN ${label}-----`), `must be PEM (${label})`);

export const enrolRequest = z.object({ token: z.string().max(256), csr: pem("CERTIFICATE REQUEST") }).strict();
export const renewRequest = z
  .object({
    csr: pem("CERTIFICATE REQUEST"),
    /** The current certificate chain, leaf first. */
    certificate: pem("CERTIFICATE"),
    signedAt: z.iso.datetime(),
    /** base64 signature by the current certificate's key over renewalProofMessage(csr, signedAt, current certificate). */
    proof: z.string().max(2048),
  })
  .strict();

export type EnrolRequest = z.infer<typeof enrolRequest>;
export type RenewRequest = z.infer<typeof renewRequest>;

/** What enrol and renew answer: the files a guard directory holds, and when to renew. */
export interface EnrolAnswer {
  /** The host's certificate then the intermediate. */
  certificate: string;
  /** Moat's roots and intermediate (the guard's ca-bundle.pem). */
  caBundle: string;
  /** The intermediate's CRL and the root's (crl-bundle.pem). */
  crlBundle: string;
  notAfter: string;
  renewAt: string;
}

export interface TrustAnswer {
  caBundle: string;
  crlBundle: string;
  /** When the CRL should be fetched again (half its validity). */
  refreshAt: string;
}

/** The certificate a renewal replaces, as the proof names it. */
export interface RenewedCertificate {
  /** SHA-256 fingerprint as Node's X509Certificate gives it ("AB:CD:..."). */
  fingerprint256: string;
  /** Lower-case hex, no leading zero bytes. */
  serialHex: string;
}

/**
 * The bytes a renewal signs: a fixed label (so the signature means nothing elsewhere), the time,
 * the certificate being renewed, and the new CSR's hash. Signing it with the current key proves the
 * renewal comes from the holder, and naming the certificate binds the proof to it: two certificates
 * that share a key cannot renew each other with one proof.
 */
export function renewalProofMessage(csrPem: string, signedAt: string, current: RenewedCertificate): Buffer {
  const csrHash = createHash("sha256").update(csrPem.trim()).digest("hex");
  return Buffer.from(`moat-enrol-renew-v2\n${signedAt}\n${current.fingerprint256}\n${current.serialHex}\n${csrHash}\n`, "utf8");
}

/** The serial as the proof and the registry write it: lower-case hex without leading zero bytes. */
export function serialHexOf(serialNumber: string): string {
  return serialNumber.toLowerCase().replace(/^(00)+(?=.)/, "");
}
