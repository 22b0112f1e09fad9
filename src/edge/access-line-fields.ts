// The access line's per-connection fields (viewer address, TLS version, cipher, viewer certificate) as JSON, made once per connection and identity, never per request.
import type { TLSSocket } from "node:tls";
import { jsonString } from "../observe/index.ts";
import type { ViewerConnectionIdentity } from "./viewer-connection-check.ts";
import type { ViewerRequestFacts } from "./viewer-request.ts";
import { viewerLogField } from "./viewer-request.ts";

// Keyed by the socket: gone with it. A connection's TLS version and cipher never change after its handshake.
const tlsFragments = new WeakMap<object, string>();
// Keyed by the connection's judgement (one per handshake, or per resumed session's binding).
const certificateFragments = new WeakMap<ViewerConnectionIdentity, string>();

/**
 * `,"client":…,"tlsVersion":…,"cipher":…` then `,"clientCert":{…}` when the distribution's viewer mTLS is on.
 * @example
 * access.write(head, fields, connectionFragment(facts.socket, facts.clientAddress, facts.viewer));
 */
export function connectionFragment(socket: TLSSocket | undefined, clientAddress: string, viewer: ViewerRequestFacts): string {
  let tls = socket === undefined ? undefined : tlsFragments.get(socket);
  if (tls === undefined) {
    tls = `,"client":${jsonString(clientAddress)}`;
    const version = socket?.getProtocol?.();
    if (version) tls += `,"tlsVersion":${jsonString(version)}`;
    const cipher = socket?.getCipher?.();
    if (cipher) tls += `,"cipher":${jsonString(cipher.standardName ?? cipher.name)}`;
    if (socket !== undefined) tlsFragments.set(socket, tls);
  }
  const identity = viewer.identity;
  if (identity === undefined) return tls;
  let certificate = certificateFragments.get(identity);
  if (certificate === undefined) {
    const field = viewerLogField(viewer);
    certificate = field === undefined ? "" : `,"clientCert":${JSON.stringify(field)}`;
    certificateFragments.set(identity, certificate);
  }
  return tls + certificate;
}
