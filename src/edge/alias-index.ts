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
