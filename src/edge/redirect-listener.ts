// The plain-HTTP port: redirects viewers of known aliases to HTTPS and serves nothing else.
import http from "node:http";
import type { EdgeSnapshot } from "./edge-snapshot.ts";
import { hostnameOfAuthority } from "./alias-index.ts";

/**
 * @example
 * createRedirectListener({ currentSnapshot, httpsPort: 8443 }).listen(8080);
 */
export function createRedirectListener(deps: { currentSnapshot(): EdgeSnapshot; httpsPort: number }): http.Server {
  const portSuffix = deps.httpsPort === 443 ? "" : `:${deps.httpsPort}`;
  return http.createServer((req, res) => {
    const hostname = hostnameOfAuthority(req.headers.host);
    // Only hosts this edge serves are redirected: anything else would make the edge an open redirector.
    if (!hostname || deps.currentSnapshot().distributionForHost(hostname) === undefined) {
      res.writeHead(421, { "content-type": "text/plain; charset=utf-8", "moat-error": "misdirected-request", connection: "close" });
      res.end(`421 Misdirected Request\nmoat-error: misdirected-request\nthis edge does not serve ${hostname || "requests without a Host header"}\n`);
      return;
    }
    const location = `https://${hostname.includes(":") ? `[${hostname}]` : hostname}${portSuffix}${req.url ?? "/"}`;
    // 301 for safe methods as browsers expect; 308 keeps the method and body of the others (RFC 9110 §15.4.9).
    const status = req.method === "GET" || req.method === "HEAD" ? 301 : 308;
    res.writeHead(status, { location, "content-length": 0, "cache-control": "max-age=3600" });
    res.end();
  });
}
