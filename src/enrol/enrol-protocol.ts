// The enrolment wire format (JSON over HTTPS) and the renewal proof: what client and server agree on, in one place.
import { createHash } from "node:crypto";
import { z } from "zod";

export const ENROL_PATHS = { enrol: "/v1/enrol", renew: "/v1/renew", trust: "/v1/trust" } as const;

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
    /** base64 signature by the current certificate's key over renewalProofMessage(csr, signedAt). */
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

/**
 * The bytes a renewal signs: a fixed label (so the signature means nothing elsewhere), the time,
 * and the new CSR's hash. Signing it with the current key proves the renewal comes from the holder.
 */
export function renewalProofMessage(csrPem: string, signedAt: string): Buffer {
  const csrHash = createHash("sha256").update(csrPem.trim()).digest("hex");
  return Buffer.from(`moat-enrol-renew-v1\n${signedAt}\n${csrHash}\n`, "utf8");
}
