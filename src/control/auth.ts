// Who is calling the admin API (a bearer token or an admin client certificate from Moat's CA) and whether their role may call a route.
import type { TLSSocket } from "node:tls";
import { ApiForbiddenError, ApiUnauthenticatedError } from "../errors.ts";
import { parseAdminSpiffeId } from "../pki/index.ts";
import { API_ROLES } from "../store/index.ts";
import type { ApiRole, TokenStore } from "../store/index.ts";

/** `expiresAt`: when the credential stops working (a token's expiry, a certificate's notAfter); what it makes may not outlive it. */
export type ApiIdentity =
  | { kind: "token"; id: string; name: string; role: ApiRole; expiresAt: Date }
  | { kind: "certificate"; name: string; role: ApiRole; spiffeId: string; serialHex: string; fingerprint256: string; expiresAt: Date };

/** How logs and messages name a caller: never a secret, only what identifies it. */
export function describeIdentity(identity: ApiIdentity): string {
  return identity.kind === "token" ? `token ${identity.id} (${identity.name}, ${identity.role})` : `certificate ${identity.spiffeId} (serial ${identity.serialHex})`;
}

/** What the store records as the author of a change. */
export function actorOf(identity: ApiIdentity): string {
  return identity.kind === "token" ? `api:token/${identity.id}` : `api:certificate/${identity.name}`;
}

/** A refusal, with who it was as far as the request said (for the log line) and the error the caller gets. */
export class AuthRefusal {
  readonly who: string;
  readonly error: ApiUnauthenticatedError | ApiForbiddenError;

  constructor(who: string, error: ApiUnauthenticatedError | ApiForbiddenError) {
    this.who = who;
    this.error = error;
  }
}

const CLIENT_AUTH_EKU = "1.3.6.1.5.5.7.3.2";

/** Parsed once per connection: a client certificate is the same for every request on it. */
const certificateIdentities = new WeakMap<TLSSocket, ApiIdentity | AuthRefusal | undefined>();

function certificateIdentity(socket: TLSSocket, trustDomain: string): ApiIdentity | AuthRefusal | undefined {
  if (certificateIdentities.has(socket)) return certificateIdentities.get(socket);
  const result = readCertificate(socket, trustDomain);
  certificateIdentities.set(socket, result);
  return result;
}

function readCertificate(socket: TLSSocket, trustDomain: string): ApiIdentity | AuthRefusal | undefined {
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) return undefined;
  const who = `certificate ${certificate.subject?.CN ?? "(no CN)"} (serial ${certificate.serialNumber?.toLowerCase()})`;
  // The handshake verified it (requestCert with Moat's CA); a failure is kept so that it can be told, not silently ignored.
  if (!socket.authorized) {
    return new AuthRefusal(who, new ApiUnauthenticatedError(`the client certificate does not verify against Moat's CA (${String(socket.authorizationError)})`));
  }
  const uris = (certificate.subjectaltname ?? "").split(", ").filter((name) => name.startsWith("URI:")).map((name) => name.slice(4));
  const admin = uris.map((uri) => ({ uri, parsed: parseAdminSpiffeId(uri, trustDomain) })).find((entry) => entry.parsed !== undefined);
  if (!admin?.parsed || uris.length !== 1) {
    return new AuthRefusal(who, new ApiForbiddenError(who, `it is not an admin certificate (one URI SAN spiffe://${trustDomain}/admin/<role>/<name>; \`moat admin issue\` makes one)`));
  }
  if (!(certificate.ext_key_usage ?? []).includes(CLIENT_AUTH_EKU)) {
    return new AuthRefusal(who, new ApiForbiddenError(who, "its extended key usage does not include clientAuth"));
  }
  const role = admin.parsed.role;
  if (!(API_ROLES as readonly string[]).includes(role)) {
    return new AuthRefusal(who, new ApiForbiddenError(who, `it names the role ${JSON.stringify(role)}, which is not one of ${API_ROLES.join(", ")}`));
  }
  return {
    kind: "certificate",
    name: admin.parsed.name,
    role: role as ApiRole,
    spiffeId: admin.uri,
    // As the revocation registry spells serials: lower-case, no leading zero bytes.
    serialHex: certificate.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ""),
    fingerprint256: certificate.fingerprint256,
    expiresAt: new Date(certificate.valid_to),
  };
}

/**
 * The caller of a request: its bearer token when it sends one (a token names its role exactly, so it wins over a
 * certificate on the same connection), else its client certificate. No credentials at all is a refusal too.
 */
export async function authenticate(
  request: { headers: { authorization?: string }; socket: TLSSocket },
  context: { tokens: TokenStore; trustDomain: string; now: Date; isRevoked?: (serialHex: string) => boolean | Promise<boolean> },
): Promise<ApiIdentity | AuthRefusal> {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match?.[1]) return new AuthRefusal("an Authorization header", new ApiUnauthenticatedError("the Authorization header is not `Bearer <token>`"));
    const check = await context.tokens.verify(match[1], context.now);
    if (check.ok) return { kind: "token", id: check.token.id, name: check.token.name, role: check.token.role, expiresAt: new Date(check.token.expiresAt) };
    const who = check.id === undefined ? "a bearer token" : `token ${check.id}`;
    const reasons = {
      malformed: "the bearer token is not a Moat API token (moat_<id>_<secret>)",
      unknown: `${who} is not known (never created, or its secret is wrong)`,
      revoked: `${who} was revoked`,
      expired: `${who} has expired`,
    } as const;
    return new AuthRefusal(who, new ApiUnauthenticatedError(reasons[check.reason]));
  }
  const fromCertificate = certificateIdentity(request.socket, context.trustDomain);
  // Asked at every request, not once per connection: a revocation takes effect on connections already open.
  if (fromCertificate !== undefined && !(fromCertificate instanceof AuthRefusal) && fromCertificate.kind === "certificate" && (await context.isRevoked?.(fromCertificate.serialHex))) {
    const who = describeIdentity(fromCertificate);
    return new AuthRefusal(who, new ApiUnauthenticatedError(`${who} was revoked`));
  }
  if (fromCertificate !== undefined) return fromCertificate;
  return new AuthRefusal("anonymous", new ApiUnauthenticatedError("the request has no bearer token and the connection no client certificate"));
}

/** Whether `role` may call a route that needs `least`: every role may do what the roles below it may. */
export function isRoleAllowed(role: ApiRole, least: ApiRole): boolean {
  return API_ROLES.indexOf(role) >= API_ROLES.indexOf(least);
}
