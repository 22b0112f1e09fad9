// The edge's identity: the SPIFFE ID in an origin client certificate's URI SAN, parsed, and checked against what an origin accepts.
import { refuse, type GuardRefusal } from "./refusal.ts";

/** Who connected: one distribution's edge, calling one of its origins. */
export interface EdgeIdentity {
  /** `spiffe://<trustDomain>/distribution/<distributionId>/origin/<originId>` */
  spiffeId: string;
  trustDomain: string;
  distributionId: string;
  originId: string;
  /** The certificate's serial, lower-case hex without colons: what an audit trail and `moat ca revoke` name. */
  serialHex: string;
  /** SHA-256 fingerprint as Node prints it (`AB:CD:…`). */
  fingerprint256: string;
  notAfter: Date;
}

/** Which edges an origin accepts: its trust domain, the distributions it serves, and optionally only some of their origins. */
export interface AcceptPolicy {
  /** Default `moat.internal`, as Moat's config. */
  trustDomain: string;
  /** At least one: a certificate of any other distribution is refused, even from the same CA. */
  distributions: readonly string[];
  /** When set, the certificate's origin id must be one of these too. */
  origins?: readonly string[] | undefined;
}

export const DEFAULT_TRUST_DOMAIN = "moat.internal";

// SPIFFE ID spec §2.1 (trust domain) and §2.2 (path segments), as src/pki/names.ts issues them.
const EDGE_SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]{1,255})\/distribution\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})\/origin\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})$/;

/** The parts of a Moat edge SPIFFE ID, or undefined when the URI is not one. */
export function parseEdgeSpiffeId(uri: string): Pick<EdgeIdentity, "spiffeId" | "trustDomain" | "distributionId" | "originId"> | undefined {
  const match = EDGE_SPIFFE_ID.exec(uri);
  if (!match) return undefined;
  const [, trustDomain = "", distributionId = "", originId = ""] = match;
  return { spiffeId: uri, trustDomain, distributionId, originId };
}

/**
 * Reads the identity from a leaf's URI SANs. The X509-SVID spec (§2) allows exactly one URI SAN;
 * a certificate with none, several, or one that is not a Moat edge ID is not an edge's.
 */
export function identityFromUris(uris: readonly string[]): ReturnType<typeof parseEdgeSpiffeId> | GuardRefusal {
  if (uris.length !== 1) {
    return refuse("not-an-edge-identity", `the certificate has ${uris.length} URI SANs; an edge certificate has exactly one, spiffe://<trust domain>/distribution/<id>/origin/<id>`);
  }
  const uri = uris[0] ?? "";
  const parsed = parseEdgeSpiffeId(uri);
  if (!parsed) return refuse("not-an-edge-identity", `the certificate's URI SAN ${JSON.stringify(uri.slice(0, 200))} is not spiffe://<trust domain>/distribution/<id>/origin/<id>`);
  return parsed;
}

// The peer learns that what it presented was refused, not what the origin accepts: through an edge, the
// edge's viewers would read the body too. The origin's log has the whole sentence.
const notAccepted = (spiffeId: string) => `${spiffeId} is not accepted by this origin (its log names the distributions it accepts)`;

/** undefined when the policy accepts the identity, else the refusal that says what was presented (and, for the log, what is accepted). */
export function checkAccepted(identity: Pick<EdgeIdentity, "spiffeId" | "trustDomain" | "distributionId" | "originId">, policy: AcceptPolicy): GuardRefusal | undefined {
  if (identity.trustDomain !== policy.trustDomain) {
    return refuse("identity-not-accepted", `${identity.spiffeId} is of trust domain ${identity.trustDomain}; this origin accepts ${policy.trustDomain}`, notAccepted(identity.spiffeId));
  }
  if (!policy.distributions.includes(identity.distributionId)) {
    return refuse(
      "identity-not-accepted",
      `${identity.spiffeId} is the edge of distribution ${identity.distributionId}; this origin accepts distribution ${policy.distributions.join(", ")} only`,
      notAccepted(identity.spiffeId),
    );
  }
  if (policy.origins && !policy.origins.includes(identity.originId)) {
    return refuse("identity-not-accepted", `${identity.spiffeId} calls origin ${identity.originId}; this origin accepts origin ${policy.origins.join(", ")} only`, notAccepted(identity.spiffeId));
  }
  return undefined;
}
