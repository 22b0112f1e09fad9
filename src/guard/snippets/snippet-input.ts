// What every origin-server snippet is made from: the accepted identities, the guard directory's files, where to listen and where the app is.

export interface SnippetInput {
  trustDomain: string;
  distributions: readonly string[];
  /** Only these origin ids, when set. */
  origins?: readonly string[] | undefined;
  files: { cert: string; key: string; caBundle: string; crl: string };
  listen: { host: string; port: number };
  /** The app the server proxies to, e.g. http://127.0.0.1:8080. */
  upstream: string;
}

/** A regex alternative of ids, escaped: `(shop|blog\.v2)`. */
function alternatives(ids: readonly string[]): string {
  return `(${ids.map((id) => id.replaceAll(".", "\\.")).join("|")})`;
}

/** Matches the subject CN Moat writes into an edge certificate: `<distribution>/<origin>` (src/pki/issue.ts). */
export function commonNameRegex(input: SnippetInput): string {
  const origin = input.origins?.length ? alternatives(input.origins) : "[A-Za-z0-9][A-Za-z0-9._-]*";
  return `^${alternatives(input.distributions)}/${origin}$`;
}

/** Matches the SPIFFE ID itself, for servers that can read URI SANs. */
export function spiffeIdRegex(input: SnippetInput): string {
  const origin = input.origins?.length ? alternatives(input.origins) : "[A-Za-z0-9][A-Za-z0-9._-]*";
  return `^spiffe://${input.trustDomain.replaceAll(".", "\\.")}/distribution/${alternatives(input.distributions)}/origin/${origin}$`;
}

export function listenAddress(input: SnippetInput): string {
  return input.listen.host.includes(":") ? `[${input.listen.host}]:${input.listen.port}` : `${input.listen.host}:${input.listen.port}`;
}

export function acceptedText(input: SnippetInput): string {
  return `distribution ${input.distributions.join(", ")}${input.origins?.length ? `, origin ${input.origins.join(", ")}` : ""}`;
}

export const FILE_NOTES = `moat enrol keeps server.crt/server.key renewed and ca-bundle.pem/crl-bundle.pem fresh;
reload the server when they change (the CRL expires: an old one makes OpenSSL refuse every edge)`;
