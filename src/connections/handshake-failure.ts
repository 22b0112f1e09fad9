// Names a TLS handshake that failed before the peer said anything about itself: it never sent a ClientHello, it left, or it does not speak TLS.
export type HandshakeFailure = "handshake-timeout" | "closed-before-handshake" | "not-tls";

/**
 * The failure a `tlsClientError` stands for when it says nothing about certificates or names, or null.
 * OpenSSL reads the first record header and refuses a plain HTTP request ("http request",
 * "https proxy request") or anything else that is not a TLS record ("wrong version number": an SSH
 * banner, a port scanner's probe); a peer that stops sending runs into Node's handshakeTimeout; one
 * that leaves mid-way resets the socket.
 *
 * @example
 * server.on("tlsClientError", (error, socket) => handshakeFailure(error, socket)); // "not-tls" for `curl http://edge:443/`
 */
export function handshakeFailure(error: Error & { code?: string }, socket: { authorizationError?: unknown }): HandshakeFailure | null {
  // OpenSSL judged a certificate: that handshake began, whatever error ended it (a reset after the alert, say).
  if (socket.authorizationError) return null;
  switch (error.code) {
    case "ERR_TLS_HANDSHAKE_TIMEOUT":
      return "handshake-timeout";
    case "ECONNRESET":
    case "EPIPE":
      return "closed-before-handshake";
    case "ERR_SSL_HTTP_REQUEST":
    case "ERR_SSL_HTTPS_PROXY_REQUEST":
    case "ERR_SSL_WRONG_VERSION_NUMBER":
      return "not-tls";
    default:
      return null;
  }
}
