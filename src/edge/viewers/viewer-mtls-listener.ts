// Viewer-listener details of viewer mTLS: the reason code of a handshake refused by OpenSSL, and the ORIGIN frame (RFC 8336) each HTTP/2 connection announces.
import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { handshakeFailure } from "../../connections/index.ts";
import type { EdgeSnapshot } from "../snapshot/edge-snapshot.ts";

/** The connection record's fields for a handshake that never completed: a stable reason, and the distribution when SNI named one. */
export function handshakeRefusalFields(error: Error & { code?: string }, socket: TLSSocket, snapshot: EdgeSnapshot): HandshakeRefusalFields {
  const servername = (socket as TLSSocket & { servername?: string | false }).servername;
  const distribution = servername ? snapshot.distributionForHost(servername.toLowerCase()) : undefined;
  const fields: HandshakeRefusalFields = { reason: handshakeRefusalReason(error, socket, servername) };
  if (distribution) fields.distribution = distribution.id;
  if (servername) fields.sni = servername;
  // The version OpenSSL had agreed when it gave up, if it got that far.
  const version = socket.getProtocol();
  if (version) fields.tlsVersion = version;
  // A certificate the viewer sent before the handshake failed (OpenSSL keeps it when it has judged it).
  let peer: X509Certificate | undefined;
  try {
    peer = socket.getPeerX509Certificate();
  } catch {
    peer = undefined;
  }
  if (peer) fields.clientCert = { subject: peer.subject, issuer: peer.issuer, serial: peer.serialNumber.toLowerCase().replace(/^(00)+(?=[0-9a-f])/, ""), fingerprint256: peer.fingerprint256 };
  return fields;
}

/** A refused handshake's record: its reason code, and what the viewer had said (SNI, TLS version, certificate). */
export interface HandshakeRefusalFields {
  reason: string;
  distribution?: string;
  sni?: string;
  tlsVersion?: string;
  clientCert?: { subject: string; issuer: string; serial: string; fingerprint256: string };
}

function handshakeRefusalReason(error: Error & { code?: string }, socket: TLSSocket, servername: string | false | undefined): string {
  // First: no ClientHello, a peer that left, or not TLS has no SNI either, and is not "sni-missing".
  const failure = handshakeFailure(error, socket);
  if (failure) return failure;
  if (error.message.startsWith("sni-unknown")) return "sni-unknown";
  // Mode required: OpenSSL aborted the handshake with alert certificate_required (116).
  if (error.code === "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE") return "client-cert-missing";
  if (/VERSION|UNSUPPORTED_PROTOCOL/i.test(error.code ?? "")) return "tls-version-too-old";
  if (!servername) return "sni-missing";
  return error.code ?? "handshake-failed";
}

/**
 * The origins an HTTP/2 connection is authoritative for: the distribution's exact aliases (a
 * wildcard cannot be written in an ORIGIN frame) and the SNI name itself, with the port unless 443.
 */
export function originFrameOrigins(socket: TLSSocket, snapshot: EdgeSnapshot): string[] {
  const servername = (socket as TLSSocket & { servername?: string | false }).servername;
  const distribution = servername ? snapshot.distributionForHost(servername.toLowerCase()) : undefined;
  if (!servername || !distribution) return [];
  const port = socket.localPort === 443 || socket.localPort === undefined ? "" : `:${socket.localPort}`;
  const names = new Set([servername.toLowerCase(), ...distribution.aliases.filter((alias) => !alias.startsWith("*."))]);
  return [...names].map((name) => `https://${name}${port}`);
}
