// Finds the distribution that serves a host name: exact aliases first, then one-label wildcards ("*.cdn.example.test").

export interface AliasIndex<D> {
  find(hostname: string): D | undefined;
}

/**
 * @example
 * const index = createAliasIndex([{ aliases: ["shop.test", "*.cdn.test"] }]);
 * index.find("img.cdn.test"); // the distribution
 */
export function createAliasIndex<D extends { readonly aliases: readonly string[] }>(distributions: readonly D[]): AliasIndex<D> {
  const exact = new Map<string, D>();
  const wildcard = new Map<string, D>();
  for (const distribution of distributions) {
    for (const alias of distribution.aliases) {
      if (alias.startsWith("*.")) wildcard.set(alias.slice(2), distribution);
      else exact.set(alias, distribution);
    }
  }
  return {
    find(hostname) {
      const found = exact.get(hostname);
      if (found !== undefined || wildcard.size === 0) return found;
      const dot = hostname.indexOf(".");
      return dot > 0 ? wildcard.get(hostname.slice(dot + 1)) : undefined;
    },
  };
}

/**
 * The host name of a Host header or :authority: lower-cased, without port and trailing dot.
 * Returns "" for a value that is not a plausible host.
 */
export function hostnameOfAuthority(authority: string | undefined): string {
  if (!authority) return "";
  let host = authority;
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    host = end === -1 ? "" : host.slice(1, end);
  } else {
    const colon = host.indexOf(":");
    if (colon !== -1) host = host.slice(0, colon);
  }
  if (host.endsWith(".")) host = host.slice(0, -1);
  return host.toLowerCase();
}

/**
 * The authority the origin is told of (X-Forwarded-Host): the normal form of RFC 9110 §4.2.3, the host
 * lower-cased without its trailing dot and without an empty or default (443) port. Any other port is
 * kept only when it is the one the viewer connected to. The cache keys a response by the distribution,
 * not by the viewer's spelling of Host, so the spelling must not reach an origin that builds links or
 * redirects from it: one viewer's "Host: shop.test:1234" was forwarded as is, and a redirect to
 * https://shop.test:1234/ stored for everyone.
 * @example
 * forwardedAuthority("Shop.Test.:443", 443); // "shop.test"
 * forwardedAuthority("shop.test:1234", 443); // "shop.test"
 * forwardedAuthority("shop.test:8443", 8443); // "shop.test:8443"
 * // `hostname`: hostnameOfAuthority(authority), when the caller has it already.
 */
export function forwardedAuthority(authority: string | undefined, localPort: number | undefined, hostname: string = hostnameOfAuthority(authority)): string {
  if (authority === undefined || authority === hostname) return hostname;
  const closing = authority.startsWith("[") ? authority.indexOf("]") : -1;
  const colon = authority.indexOf(":", closing + 1);
  const port = colon === -1 ? "" : authority.slice(colon + 1);
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return port !== "" && port !== "443" && localPort !== undefined && port === String(localPort) ? `${host}:${port}` : host;
}
