// The access line's fields that repeat as JSON, made once, never per request: per connection (viewer address, TLS version, cipher, viewer certificate), per behavior (distribution, behavior), per constant stage result (a memory hit).
import type { TLSSocket } from "node:tls";
import { jsonFields, jsonString } from "../../observe/index.ts";
import type { RoutedBehavior } from "../snapshot/edge-snapshot.ts";
import type { ViewerConnectionIdentity } from "../viewers/viewer-connection-check.ts";
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

// Keyed by the behavior (one per snapshot): its distribution's id with it, in case a behavior object were ever shared.
const routeFragments = new WeakMap<RoutedBehavior, { distributionId: string; fragment: string }>();

/**
 * `,"distribution":…,"behavior":…` for a request routed to `behavior` of distribution `distributionId`.
 * @example
 * facts.routeFragment = routeFragment(distribution.id, behavior);
 */
export function routeFragment(distributionId: string, behavior: RoutedBehavior): string {
  const known = routeFragments.get(behavior);
  if (known !== undefined && known.distributionId === distributionId) return known.fragment;
  const fragment = `,"distribution":${jsonString(distributionId)},"behavior":${jsonString(behavior.path)}`;
  routeFragments.set(behavior, { distributionId, fragment });
  return fragment;
}

// Keyed by a frozen stage result (the cache's memory hit): its fields can never change.
const frozenFragments = new WeakMap<object, string>();

/**
 * A stage's fields as JSON (observe's jsonFields), serialised once when the object is frozen: a memory hit's
 * `{ cache: "hit", tier: "memory" }` is one shared object.
 */
export function stageFields(fields: Record<string, unknown>, isWritten: (name: string) => boolean): string {
  if (!Object.isFrozen(fields)) return jsonFields(fields, isWritten);
  let fragment = frozenFragments.get(fields);
  if (fragment === undefined) {
    fragment = jsonFields(fields, isWritten);
    frozenFragments.set(fields, fragment);
  }
  return fragment;
}
