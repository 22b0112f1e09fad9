// The stable reason codes of refused viewer connections, and how OpenSSL's verification errors map onto them.

/** Why a viewer connection (or a request on it) was refused: logged as `reason`, sent as `Moat-Error`. */
export type ClientCertRefusalReason =
  | "client-cert-missing"
  | "client-cert-untrusted"
  | "client-cert-expired"
  | "client-cert-not-yet-valid"
  | "client-cert-revoked"
  | "client-cert-wrong-usage"
  | "client-cert-crl-missing"
  | "client-cert-crl-stale"
  | "client-cert-session-unverified"
  | "client-cert-invalid";

// Node's `authorizationError` is OpenSSL's X509_V_ERR_* name without the prefix.
const BY_OPENSSL_CODE: Readonly<Record<string, ClientCertRefusalReason>> = {
  CERT_HAS_EXPIRED: "client-cert-expired",
  CERT_NOT_YET_VALID: "client-cert-not-yet-valid",
  CERT_REVOKED: "client-cert-revoked",
  INVALID_PURPOSE: "client-cert-wrong-usage",
  UNABLE_TO_GET_ISSUER_CERT: "client-cert-untrusted",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "client-cert-untrusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "client-cert-untrusted",
  DEPTH_ZERO_SELF_SIGNED_CERT: "client-cert-untrusted",
  SELF_SIGNED_CERT_IN_CHAIN: "client-cert-untrusted",
  CERT_SIGNATURE_FAILURE: "client-cert-untrusted",
  CERT_UNTRUSTED: "client-cert-untrusted",
  CERT_REJECTED: "client-cert-untrusted",
  INVALID_CA: "client-cert-untrusted",
  PATH_LENGTH_EXCEEDED: "client-cert-untrusted",
  CERT_CHAIN_TOO_LONG: "client-cert-untrusted",
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: "client-cert-untrusted",
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "client-cert-untrusted",
  UNABLE_TO_GET_CRL: "client-cert-crl-missing",
  UNABLE_TO_GET_CRL_ISSUER: "client-cert-crl-missing",
  CRL_HAS_EXPIRED: "client-cert-crl-stale",
  CRL_NOT_YET_VALID: "client-cert-crl-stale",
  CRL_SIGNATURE_FAILURE: "client-cert-crl-missing",
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: "client-cert-crl-missing",
};

/**
 * @example
 * reasonForVerifyError("CERT_HAS_EXPIRED"); // "client-cert-expired"
 */
export function reasonForVerifyError(code: string): ClientCertRefusalReason {
  return BY_OPENSSL_CODE[code] ?? "client-cert-invalid";
}

/** What a viewer (and the operator) can do about each reason: the short public summary of a 403 or a log line. */
export const REFUSAL_SUMMARIES: Readonly<Record<ClientCertRefusalReason, string>> = {
  "client-cert-missing": "this path requires a client certificate and none was presented",
  "client-cert-untrusted": "the client certificate does not chain to a CA this distribution trusts",
  "client-cert-expired": "the client certificate has expired",
  "client-cert-not-yet-valid": "the client certificate is not valid yet",
  "client-cert-revoked": "the client certificate has been revoked",
  "client-cert-wrong-usage": "the client certificate is not meant for client authentication (EKU clientAuth)",
  "client-cert-crl-missing": "the edge has no CRL for a CA of the client certificate's chain",
  "client-cert-crl-stale": "the edge's CRL for the client certificate's CA is out of date",
  "client-cert-session-unverified": "the resumed TLS session's certificate was never verified for this distribution",
  "client-cert-invalid": "the client certificate failed verification",
};
