// The identifier an edge gives its Cache-Status entries (RFC 9211 §2), from the name it was given and the distribution it serves.

/**
 * This cache's Cache-Status identifier. RFC 9211 §2 expects each cache in the chain to name itself, so that the hops of
 * an origin shield can be told apart: `moat-<edge name>` when the edge was given a name (`--edge-name`, MOAT_EDGE_NAME);
 * without one, `moat-shield` for a distribution that takes only the fleet's edges (viewerMtls.edgesOnly: the shield
 * side of an origin shield) and `moat` for any other. The name is made a token (RFC 8941 §3.3.4): any other character
 * becomes "-". Host names are never used unasked: they would tell every viewer the edge's internal name.
 * @example
 * cacheStatusNameOf("fra-1", false); // "moat-fra-1"
 * cacheStatusNameOf(null, true);     // "moat-shield"
 */
export function cacheStatusNameOf(edgeName: string | null, servesEdges: boolean): string {
  if (edgeName !== null && edgeName !== "") return `moat-${edgeName.replace(/[^A-Za-z0-9!#$%&'*+.^_`|~:/-]/g, "-")}`;
  return servesEdges ? "moat-shield" : "moat";
}
