// The miss ceiling: the least a Node proxy does per miss (node:https in, undici's keep-alive mTLS pool out, a minimal dispatch handler), no cache, no policy.
//
// What it keeps of a proxy: the origin's client certificate and verification of the origin, one keep-alive pool as
// Moat's (pipelining 1, 60 s, TLS sessions cached), the request path and headers sent on, hop-by-hop fields dropped
// both ways, the status and end-to-end fields written back, the body written as it comes and ended with its last
// chunk. What it leaves out is everything Moat adds: routing, the cache stage, header policy (Via, X-Forwarded-*),
// logs, retries, failover, timeouts' error pages. Moat's miss over this is what Moat itself costs per miss.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Pool, buildConnector } from "undici";
import type { Dispatcher } from "undici";

export interface CeilingProxyOptions {
  /** "https://host:port" of the origin. */
  originUrl: string;
  /** The origin's name as its certificate says it (SNI and verification). */
  serverName: string;
  caPem: string | Buffer;
  clientCertPem: string | Buffer;
  clientKeyPem: string | Buffer;
}

// RFC 9110 §7.6.1: not forwarded either way (lower case, as Node and undici give names).
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]);

export interface CeilingProxy {
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
}

/**
 * A request handler that forwards every request to the origin and writes its answer back.
 * @example
 * const proxy = createCeilingProxy({ originUrl, serverName: "localhost", caPem, clientCertPem, clientKeyPem });
 * https.createServer(tlsOptions, proxy.handle).listen(0);
 */
export function createCeilingProxy(options: CeilingProxyOptions): CeilingProxy {
  const connect = buildConnector({ ca: options.caPem, cert: options.clientCertPem, key: options.clientKeyPem, servername: options.serverName, maxCachedSessions: 100 });
  const pool = new Pool(options.originUrl, { connect, keepAliveTimeout: 60_000, pipelining: 1 });
  const host = new URL(options.originUrl).host;
  return {
    handle(req, res) {
      const headers: string[] = ["host", host];
      const raw = req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const name = (raw[i] as string).toLowerCase();
        if (name !== "host" && !HOP_BY_HOP.has(name)) headers.push(name, raw[i + 1] as string);
      }
      req.resume();
      pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.url ?? "/", headers, body: null }, new CeilingHandler(res));
    },
    close: () => pool.close(),
  };
}

/** undici's original handler interface, as Moat's origin-dispatch.ts uses it. */
class CeilingHandler implements Dispatcher.DispatchHandler {
  private readonly res: ServerResponse;
  private pending: Buffer | null = null;
  private resume: () => void = () => undefined;

  constructor(res: ServerResponse) {
    this.res = res;
  }

  onConnect(): void {}

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    this.resume = resume;
    const headers: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = (rawHeaders[i] as Buffer).toString("latin1").toLowerCase();
      if (!HOP_BY_HOP.has(name)) headers.push(name, (rawHeaders[i + 1] as Buffer).toString("latin1"));
    }
    this.res.writeHead(statusCode, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    // One chunk held back, so that the last goes out with the end (head, body and end in one write for a small body).
    const previous = this.pending;
    this.pending = chunk;
    if (previous === null || this.res.write(previous)) return true;
    this.res.once("drain", this.resume);
    return false;
  }

  onComplete(): void {
    if (this.pending) this.res.end(this.pending);
    else this.res.end();
  }

  onError(): void {
    if (this.res.headersSent) this.res.destroy();
    else {
      this.res.writeHead(502, { "content-length": 0 });
      this.res.end();
    }
  }
}
