// Node's ceiling: a bare node:https server (and a node:http2 one for HTTP/2) answering a fixed body, no proxy, no cache; over
// HTTP/1.1 a /no-store/ path (a miss) is forwarded to the mTLS origin by the bare proxy of ceiling-proxy.ts. Run as its own process.
// Usage: node ceiling-server.ts <h1Port> <h2Port> <cert.pem> <key.pem> <originUrl> <originName> <ca.pem> <client.pem> <client.key>
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import https from "node:https";
import { holdTickObjectShape } from "../../src/tick-shape.ts";
import { createCeilingProxy } from "./ceiling-proxy.ts";

const [h1Port, h2Port, certFile, keyFile, originUrl, originName, caFile, clientCertFile, clientKeyFile] = process.argv.slice(2);
const tlsOptions = { cert: readFileSync(certFile!), key: readFileSync(keyFile!), minVersion: "TLSv1.3" as const };
const proxy = createCeilingProxy({ originUrl: originUrl!, serverName: originName!, caPem: readFileSync(caFile!), clientCertPem: readFileSync(clientCertFile!), clientKeyPem: readFileSync(clientKeyFile!) });
const bodies = new Map<number, Buffer>();
// As Moat does: V8's memory reducer, collecting while the ceiling waits between cases, would otherwise slow every later
// nextTick of this process for good, and the ceiling would be lower in some runs than in others (src/tick-shape.ts).
holdTickObjectShape();

// The same paths and headers as the origin: /cache/<bytes>, /no-store/<bytes>.
function answer(url: string): { status: number; headers: Record<string, string | number>; body: Buffer } {
  const match = /^\/(cache|no-store)\/(\d{1,8})$/.exec(url);
  if (!match) return { status: 404, headers: { "content-length": 0 }, body: Buffer.alloc(0) };
  const bytes = Number(match[2]);
  let body = bodies.get(bytes);
  if (!body) bodies.set(bytes, (body = Buffer.alloc(bytes, "c")));
  const cacheControl = match[1] === "cache" ? "public, max-age=3600" : "no-store";
  return { status: 200, headers: { "content-type": "application/octet-stream", "content-length": bytes, "cache-control": cacheControl }, body };
}

https
  .createServer({ ...tlsOptions, keepAliveTimeout: 75_000 }, (req, res) => {
    if (req.url?.startsWith("/no-store/")) return proxy.handle(req, res);
    const { status, headers, body } = answer(req.url ?? "");
    res.writeHead(status, headers);
    res.end(body);
  })
  .listen(Number(h1Port), "127.0.0.1");

// The core 'stream' API, not the compatibility one: Moat answers an HTTP/2 hit through it too
// (src/edge/viewers/viewer-h2-stream.ts), so the ceiling is the cheapest Node can do, not a slower path.
http2
  .createSecureServer(tlsOptions)
  .on("stream", (stream, requestHeaders) => {
    const { status, headers, body } = answer(String(requestHeaders[":path"] ?? ""));
    stream.respond({ ":status": status, ...headers });
    stream.end(body);
  })
  .listen(Number(h2Port), "127.0.0.1");
