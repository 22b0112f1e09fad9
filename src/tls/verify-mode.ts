// Asks a viewer for a client certificate per distribution, at SNI time, as nginx's per-server ssl_verify_client does; the only code that touches Node's TLS socket internals.
import { Socket } from "node:net";
import tls from "node:tls";
import type { TLSSocket } from "node:tls";
import type { ViewerMtlsMode } from "../config/index.ts";
import { ViewerMtlsUnsupportedError } from "../errors.ts";

// Node fixes requestCert for the whole server before SNI is known, and a distribution that does
// not use mTLS must not send a CertificateRequest (browsers would prompt for a certificate). The
// SNI callback runs before OpenSSL writes its CertificateRequest, so the mode set here applies.
// TLSSocket.renegotiate() uses this same internal call to change the mode of a live socket.
interface SocketInternals {
  _handle?: { setVerifyMode?(requestCert: boolean, rejectUnauthorized: boolean): void } | null;
  _requestCert?: boolean;
}

/**
 * Called from the SNI callback with the handshaking socket. off: no request. optional and
 * passthrough: a certificate is requested, not required. required: OpenSSL aborts a handshake
 * that brings none (alert certificate_required). Whatever certificate arrives, OpenSSL records
 * its verification and Node's `socket.authorized`/`authorizationError` report it after the
 * handshake; judgeConnection (connection-verdict.ts) decides on it.
 * @example
 * SNICallback: function (servername, cb) { requestClientCertificate(this, distribution.viewerMtls.mode); cb(null, context); }
 */
export function requestClientCertificate(socket: TLSSocket, mode: ViewerMtlsMode): void {
  if (mode === "off") return;
  const internals = socket as unknown as SocketInternals;
  if (typeof internals._handle?.setVerifyMode !== "function") throw new ViewerMtlsUnsupportedError("TLSSocket._handle.setVerifyMode is missing");
  internals._handle.setVerifyMode(true, mode === "required");
  // Node fills socket.authorized and authorizationError after the handshake only when this is set.
  internals._requestCert = true;
}

/**
 * Throws ViewerMtlsUnsupportedError at start, rather than at the first handshake, if this Node.js
 * lacks the internals requestClientCertificate relies on.
 * @example
 * assertVerifyModeSupported(); // in createViewerListener
 */
export function assertVerifyModeSupported(): void {
  const probe = new tls.TLSSocket(new Socket(), { isServer: true, secureContext: tls.createSecureContext() });
  try {
    const internals = probe as unknown as SocketInternals;
    if (typeof internals._handle?.setVerifyMode !== "function" || !("_requestCert" in probe)) {
      throw new ViewerMtlsUnsupportedError("TLSSocket._handle.setVerifyMode or _requestCert is missing");
    }
  } finally {
    probe.destroy();
  }
}
