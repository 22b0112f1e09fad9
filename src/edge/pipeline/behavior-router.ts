// Picks the cache behavior for a request path: CloudFront-style patterns, the most specific first, "*" last.

export interface PathBehavior {
  /** Pattern as configured: "*" and "?" wildcards, case-sensitive. */
  readonly path: string;
}

/**
 * Compiles behaviors into a matcher. Specificity is the number of literal characters in the
 * pattern (`/static/img/*` beats `/static/*`); ties keep the configured order.
 * @example
 * const match = compileBehaviorRouter([{ path: "/static/*" }, { path: "*" }]);
 * match("/static/a.css")?.path; // "/static/*"
 */
export function compileBehaviorRouter<B extends PathBehavior>(behaviors: readonly B[]): (path: string) => B | undefined {
  const compiled = behaviors
    .map((behavior, order) => ({ behavior, order, literals: countLiterals(behavior.path), regex: patternToRegExp(behavior.path) }))
    .sort((a, b) => b.literals - a.literals || a.order - b.order);
  return (path) => {
    for (const entry of compiled) {
      if (entry.regex === null || entry.regex.test(path)) return entry.behavior;
    }
    return undefined;
  };
}

function countLiterals(pattern: string): number {
  let count = 0;
  for (const ch of pattern) if (ch !== "*" && ch !== "?") count++;
  return count;
}

/** `null` means "matches everything" so the default behavior costs no regex run. */
function patternToRegExp(pattern: string): RegExp | null {
  if (pattern === "*") return null;
  let source = "^";
  for (const ch of pattern) {
    if (ch === "*") source += "[^]*";
    else if (ch === "?") source += "[^]";
    else source += ch.replace(/[.+^${}()|[\]\\/-]/g, "\\$&");
  }
  return new RegExp(source + "$");
}
