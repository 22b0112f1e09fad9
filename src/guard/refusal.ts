// Why the guard refuses a peer: one stable code per cause, and the mapping from OpenSSL's verification errors to those codes.

/** Every reason a verifier refuses an edge; the code goes into logs and the `Moat-Guard-Refusal` header. */
export const GUARD_REFUSAL_CODES = [
  "no-client-certificate",
  "malformed-certificate",
  "untrusted-chain",
  "expired",
  "not-yet-valid",
  "revoked",
  "crl-unavailable",
  "crl-expired",
  "missing-client-auth",
  "not-an-edge-identity",
  "identity-not-accepted",
  "handshake-failed",
] as const;

export type GuardRefusalCode = (typeof GUARD_REFUSAL_CODES)[number];

/** A refusal: the code, and one sentence naming the certificate and the check (never a key, never a whole certificate). */
export interface GuardRefusal {
  ok: false;
  code: GuardRefusalCode;
  /** For the origin's operator (the log): may name the origin's own policy. */
  detail: string;
  /** For the peer (the 403 body), when it must say less than `detail`; else `detail` is sent. */
  publicDetail?: string;
}

export function refuse(code: GuardRefusalCode, detail: string, publicDetail?: string): GuardRefusal {
  return publicDetail === undefined ? { ok: false, code, detail } : { ok: false, code, detail, publicDetail };
}

// OpenSSL's X509_V_ERR_* names as Node reports them in `socket.authorizationError` / `error.code`.
const OPENSSL_CODES: Readonly<Record<string, GuardRefusalCode>> = {
  CERT_HAS_EXPIRED: "expired",
  CERT_NOT_YET_VALID: "not-yet-valid",
  CERT_REVOKED: "revoked",
  UNABLE_TO_GET_CRL: "crl-unavailable",
  CRL_NOT_YET_VALID: "crl-unavailable",
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: "crl-unavailable",
  CRL_SIGNATURE_FAILURE: "crl-unavailable",
  CRL_HAS_EXPIRED: "crl-expired",
  INVALID_PURPOSE: "missing-client-auth",
  UNABLE_TO_GET_ISSUER_CERT: "untrusted-chain",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "untrusted-chain",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "untrusted-chain",
  SELF_SIGNED_CERT_IN_CHAIN: "untrusted-chain",
  DEPTH_ZERO_SELF_SIGNED_CERT: "untrusted-chain",
  CERT_SIGNATURE_FAILURE: "untrusted-chain",
  INVALID_CA: "untrusted-chain",
  PATH_LENGTH_EXCEEDED: "untrusted-chain",
  CERT_CHAIN_TOO_LONG: "untrusted-chain",
};

/**
 * The refusal code for an OpenSSL verification error (`socket.authorizationError` on a refused
 * handshake, e.g. `CERT_REVOKED`); `untrusted-chain` for any error not listed.
 */
export function refusalCodeForOpenSsl(error: string | Error | null | undefined): GuardRefusalCode {
  if (error === null || error === undefined) return "no-client-certificate";
  const name = typeof error === "string" ? error : ((error as { code?: string }).code ?? error.message);
  return OPENSSL_CODES[name] ?? "untrusted-chain";
}

/**
 * The refusal code for a handshake the TLS server refused (its `tlsClientError`): OpenSSL's verdict
 * on the certificate if it got one, "no-client-certificate" when the peer sent none, else
 * "handshake-failed" (a reset, no shared protocol version or cipher).
 */
export function refusalCodeForHandshake(error: Error, socket: { authorizationError?: string | Error | null | undefined }): GuardRefusalCode {
  if (socket.authorizationError) return refusalCodeForOpenSsl(socket.authorizationError);
  const code = (error as NodeJS.ErrnoException).code ?? "";
  if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/.test(code)) return "no-client-certificate";
  return "handshake-failed";
}
