// The plain-HTTP port: redirects viewers of known aliases to HTTPS, and publishes the CA bundle and CRLs origins fetch.
import { readFile } from "node:fs/promises";
import type { Server, ServerResponse } from "node:http";
import { join } from "node:path";
import type { EdgeSnapshot } from "../snapshot/edge-snapshot.ts";
import { hostnameOfAuthority } from "../pipeline/alias-index.ts";
import { CRLS_DIR } from "../../pki/index.ts";

// Not `import … from "node:http"`: Node's ESM view of a builtin reads every export, and node:http's WebSocket getter loads
// Node's bundled undici (fetch, WebSocket: megabytes of idle RSS) that nothing here uses.
const { createServer } = process.getBuiltinModule("node:http");

// CRLs go over plain HTTP on purpose (RFC 5280 §4.2.1.13 distribution points are http URIs):
// fetching revocation data must not depend on the TLS it is there to check.
const publishedFiles: Record<string, { file: string; type: string }> = {
  "/.well-known/moat/ca-bundle.pem": { file: "bundle.pem", type: "application/x-pem-file" },
  "/.well-known/moat/crl-bundle.pem": { file: "crl-bundle.pem", type: "application/x-pem-file" },
  "/.well-known/moat/crl.der": { file: "crl.der", type: "application/pkix-crl" },
};

/**
 * Each issuer's CRL, where the CRL Distribution Point of the certificates it signed points
 * (`<base>crl/<serial>.der`, see pki/publication.ts): the path must be exactly a lower-case
 * hex serial, so nothing but a file of `<dataDir>/ca/crls/` can ever be named by it.
 */
const ISSUER_CRL_PATH = /^\/\.well-known\/moat\/crl\/([0-9a-f]{1,40})\.der$/;

function publishedFile(url: string): { file: string; type: string } | undefined {
  const fixed = Object.hasOwn(publishedFiles, url) ? publishedFiles[url] : undefined;
  if (fixed) return fixed;
  const serial = ISSUER_CRL_PATH.exec(url)?.[1];
  return serial === undefined ? undefined : { file: join(CRLS_DIR, `${serial}.der`), type: "application/pkix-crl" };
}

/**
 * @example
 * createRedirectListener({ currentSnapshot, httpsPort: 8443, dataDir: "/var/lib/moat" }).listen(8080);
 */
export function createRedirectListener(deps: { currentSnapshot(): EdgeSnapshot; httpsPort: number; dataDir: string }): Server {
  const portSuffix = deps.httpsPort === 443 ? "" : `:${deps.httpsPort}`;
  return createServer((req, res) => {
    const published = req.method === "GET" || req.method === "HEAD" ? publishedFile(req.url ?? "") : undefined;
    if (published) {
      void servePublished(res, join(deps.dataDir, "ca", published.file), published.type, req.method === "HEAD");
      return;
    }
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

async function servePublished(res: ServerResponse, file: string, type: string, isHead: boolean): Promise<void> {
  try {
    const body = await readFile(file);
    // Origins poll these; a short max-age keeps a fresh revocation from waiting behind a cache.
    res.writeHead(200, { "content-type": type, "content-length": body.length, "cache-control": "max-age=60" });
    res.end(isHead ? undefined : body);
  } catch {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("not published by this edge (no CA in its data directory, or no CRL yet)\n");
  }
}
