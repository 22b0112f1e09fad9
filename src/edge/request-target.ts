// Checks the request target before routing: origin-form only, and no dot-segments that would let a path dodge its behavior.

export type RequestTarget = { ok: true; pathname: string } | { ok: false; problem: string };

// "/../" and "/./" (also percent-encoded: %2e) are resolved by most origins (RFC 3986 §5.2.4), so
// "/static/../admin/x" would match the /static/* behavior here and reach /admin/x there.
// Refusing them, as Envoy's path normalization and CloudFront do, keeps routing and origin in agreement.
const dotSegment = /(^|\/)(\.|%2e){1,2}(\/|$|\?)/i;

/**
 * @example
 * checkRequestTarget("/static/a.css?v=1"); // { ok: true, pathname: "/static/a.css" }
 * checkRequestTarget("/static/../admin");  // { ok: false, problem: "…" }
 */
export function checkRequestTarget(url: string): RequestTarget {
  if (url.charCodeAt(0) !== 47 /* "/" */) {
    return { ok: false, problem: "the request target must be a path starting with / (origin-form, RFC 9112 §3.2.1)" };
  }
  const query = url.indexOf("?");
  const pathname = query === -1 ? url : url.slice(0, query);
  if (dotSegment.test(pathname)) return { ok: false, problem: "the path has a . or .. segment; send the resolved path" };
  return { ok: true, pathname };
}
