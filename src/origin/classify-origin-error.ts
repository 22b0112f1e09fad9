// Turns the error undici or Node's TLS raised on the way to an origin into one of Moat's stable origin failure codes.
import type { TLSSocket } from "node:tls";
import type { OriginFailureCode } from "../errors.ts";
import { defaultTlsPolicy } from "../tls/index.ts";

export interface ClassifiedOriginError {
  code: OriginFailureCode;
  /** The low-level cause in a few words, for the message and the log: never key material. */
  detail: string;
}

// OpenSSL verification results as Node reports them (err.code) when the origin's certificate fails.
const untrustedCodes = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_REVOKED",
]);

// TLS alerts an origin sends when it refuses the client certificate (mostly seen with TLS 1.2;
// with TLS 1.3 the alert comes after the handshake and Node reports a plain close, see below).
const clientCertAlertPattern = /ALERT_(HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_REQUIRED|ACCESS_DENIED|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|DECRYPT_ERROR)/;

// Errors of connections the origin refused at the ClientHello, before any key was agreed (see watchHandshakeOffer).
const refusedOffers = new WeakSet<object>();

/**
 * Watches a new origin connection's handshake, so that a handshake_failure alert can be told apart:
 * sent in answer to the ClientHello (no TLS version, cipher suite or group in common) or after the
 * edge sent its certificate (refused). OpenSSL reports both as the same alert; what differs is
 * whether key agreement happened, which OpenSSL's key log callback marks. The logged line is secret
 * key material: it is never read, kept or logged, only that it came.
 * @example
 * const socket = connect(options, callback); watchHandshakeOffer(socket);
 */
export function watchHandshakeOffer(socket: TLSSocket): void {
  let isAgreed = false;
  const onKeylog = () => {
    isAgreed = true;
  };
  socket.once("keylog", onKeylog);
  socket.once("secureConnect", () => socket.off("keylog", onKeylog));
  // Ahead of undici's own listener, which fails the request (and so classifies the error) at once.
  socket.prependOnceListener("error", (error: unknown) => {
    if (!isAgreed && typeof error === "object" && error !== null) refusedOffers.add(error);
  });
}

/** What the edge offers origins (origin-client.ts connects with the default policy), for the operator to compare. */
function edgeOffer(): string {
  const policy = defaultTlsPolicy();
  return `the edge offers TLS 1.2 and 1.3, groups ${policy.ecdhCurves.join(", ")}, TLS 1.2 ciphers ${policy.ciphers.join(", ")}`;
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  socket?: { bytesRead?: number };
}

/** Classifies a failure of one origin request. */
export function classifyOriginError(error: unknown): ClassifiedOriginError {
  const err = (error ?? {}) as ErrorLike;
  const code = typeof err.code === "string" ? err.code : "";
  const message = typeof err.message === "string" ? err.message : String(error);
  const detail = code ? `${code}: ${firstLine(message)}` : firstLine(message);

  if (error instanceof RefusalPageAnswer) return { code: "origin-rejected-client-cert", detail: `${error.message}: ${error.check}` };
  if (code === "CERT_HAS_EXPIRED") return { code: "origin-cert-expired", detail };
  if (code === "CERT_NOT_YET_VALID") return { code: "origin-cert-not-yet-valid", detail };
  if (untrustedCodes.has(code)) return { code: "origin-cert-untrusted", detail };
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") return { code: "origin-name-mismatch", detail };
  if (clientCertAlertPattern.test(code) || clientCertAlertPattern.test(message)) {
    if (typeof error === "object" && error !== null && refusedOffers.has(error)) {
      return { code: "origin-tls-failed", detail: `${detail}; the origin refused the edge's TLS offer before any certificate was exchanged: no TLS version, cipher suite or key exchange group in common (${edgeOffer()})` };
    }
    return { code: "origin-rejected-client-cert", detail };
  }
  if (code === "ECONNREFUSED") return { code: "origin-connect-refused", detail };
  if (code === "UND_ERR_CONNECT_TIMEOUT" || code === "ETIMEDOUT") return { code: "origin-connect-timeout", detail };
  if (code === "UND_ERR_HEADERS_TIMEOUT") return { code: "origin-response-timeout", detail };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return { code: "origin-dns-failed", detail };
  // undici cuts a response head past maxHeaderSize (Node's 16 KiB) and closes the socket itself: the
  // origin closed nothing, and "closed the connection" sent operators to the wrong end.
  if (code === "UND_ERR_HEADERS_OVERFLOW") return { code: "origin-bad-response", detail: `${detail}; the response head is over the edge's 16 KiB limit (Node's maxHeaderSize): the origin sends too many or too large header fields` };
  if (code === "HPE_INVALID_CONSTANT" || code.startsWith("HPE_") || code === "UND_ERR_INFO") return { code: "origin-bad-response", detail };
  if (code === "UND_ERR_SOCKET" || code === "ECONNRESET" || code === "EPIPE") return classifyClose(code, detail, err);
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_")) return { code: "origin-tls-failed", detail };
  return { code: "origin-connection-reset", detail };
}

function classifyClose(code: string, detail: string, err: ErrorLike): ClassifiedOriginError {
  // With TLS 1.3 the server checks the client certificate after the handshake has completed on the
  // client's side; OpenSSL's "certificate required"/"unknown CA" alert then reaches Node as a plain
  // end of stream. A fresh connection that finished its handshake and was closed before a single
  // response byte arrived is that refusal. (undici only raises UND_ERR_SOCKET on a connected socket.)
  if (code === "UND_ERR_SOCKET" && err.socket?.bytesRead === 0) {
    return { code: "origin-rejected-client-cert", detail: `${detail}; the origin closed the connection right after the TLS handshake, before answering` };
  }
  // With TLS 1.2 the refusal happens inside the handshake: the socket closes before it is secure.
  if (/before secure TLS connection/.test(detail)) {
    return { code: "origin-rejected-client-cert", detail: `${detail}; the origin ended the TLS handshake after the edge sent its certificate` };
  }
  return { code: "origin-connection-reset", detail };
}

function firstLine(text: string): string {
  const end = text.indexOf("\n");
  return (end === -1 ? text : text.slice(0, end)).slice(0, 300);
}

// nginx verifies a client certificate in its HTTP layer, on a handshake that completed (ssl_verify_client on, optional or
// optional_no_ca): a refused (or missing) one gets one of these pages, its error pages 495 and 496 sent as 400
// (src/http/ngx_http_special_response.c). Only nginx's own page counts, matched from its first byte: an application's
// 400 that merely mentions certificates passes through as the application's answer. With `error_page 495 496 ...`
// an operator replaces the page, and the edge cannot tell it from the application's.
const HTTP_REFUSAL_PAGES: ReadonlyArray<{ title: string; prefix: RegExp; check: string }> = [
  {
    title: "The SSL certificate error",
    prefix: /^<html>\r?\n<head><title>400 The SSL certificate error<\/title><\/head>\r?\n/,
    check: "nginx's ssl_verify_client found the certificate does not verify against its ssl_client_certificate (or ssl_trusted_certificate) CAs, or is expired, revoked (ssl_crl) or failed its OCSP check (ssl_ocsp)",
  },
  {
    title: "No required SSL certificate was sent",
    prefix: /^<html>\r?\n<head><title>400 No required SSL certificate was sent<\/title><\/head>\r?\n/,
    check: "nginx's ssl_verify_client on got no certificate: the edge sent none, or none issued by a CA nginx names in its certificate request (ssl_client_certificate)",
  },
];

/** Bytes of the body enough to tell an nginx refusal page from any other answer. */
export const REFUSAL_PAGE_PREFIX_BYTES = 96;

/**
 * The title of the page an origin answered to say it refused the client certificate over HTTP (nginx's 400), or null.
 * `bodyStart` is the body's first bytes as text (at least REFUSAL_PAGE_PREFIX_BYTES of it, or the whole body).
 * @example
 * if (refusalPageOf(400, "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n…")) keepTheOldCertificate();
 */
export function refusalPageOf(statusCode: number, bodyStart: string): string | null {
  if (statusCode !== 400) return null;
  for (const page of HTTP_REFUSAL_PAGES) if (page.prefix.test(bodyStart)) return page.title;
  return null;
}

/**
 * Whether a response head may be nginx's refusal page, so that its body's first bytes must be read before the answer
 * is handed on: a 400 in text/html with a body. Anything else is handed on at its head, as it is.
 * @example
 * if (mayBeRefusalPage("GET", 400, headers)) holdTheAnswer();
 */
export function mayBeRefusalPage(method: string, statusCode: number, headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  if (statusCode !== 400 || method === "HEAD") return false;
  const type = headers["content-type"];
  return typeof type === "string" && /^text\/html\s*(;|$)/i.test(type);
}

/**
 * The failure an nginx refusal page stands for: classifyOriginError makes it `origin-rejected-client-cert`, with the
 * page's title and the check nginx made, as for a refusal inside the handshake.
 */
export class RefusalPageAnswer extends Error {
  readonly code = "MOAT_ORIGIN_REFUSAL_PAGE";
  readonly title: string;

  constructor(title: string) {
    super(`the origin answered 400 "${title}" after the TLS handshake`);
    this.name = "RefusalPageAnswer";
    this.title = title;
  }

  /** What nginx checked, for the message's detail. */
  get check(): string {
    return HTTP_REFUSAL_PAGES.find((page) => page.title === this.title)?.check ?? "the origin refused the client certificate in its HTTP layer";
  }
}
