// A pooled keep-alive mTLS client for one origin: presents the origin's client certificate and verifies the origin's own.
import { isIP } from "node:net";
import type { Readable } from "node:stream";
import { Client, Pool, buildConnector } from "undici";
import type { Dispatcher } from "undici";
import { OriginFailureError } from "../errors.ts";
import type { OriginFailureContext } from "../errors.ts";
import { tlsPolicyOptions } from "../tls/index.ts";
import { classifyOriginError } from "./classify-origin-error.ts";

export interface OriginClientCertificate {
  chainPem: string;
  keyPem: string;
  /** How the certificate is named in errors and logs, e.g. its SPIFFE URI and serial. */
  identity: string;
}

export interface OriginClientOptions {
  distributionId: string;
  originId: string;
  /** Origin as "https://host:port". */
  url: string;
  /** Prefix of every request path, "" or "/base" (the URL's path in the config). */
  basePath: string;
  /** Host header sent to the origin: its host[:port]. */
  hostHeader: string;
  serverName: string;
  /** CA certificates (PEM) that the origin's server certificate must chain to. */
  caPem: string;
  /** Where `caPem` came from, for error messages. */
  trustedCaLabel: string;
  clientCertificate: OriginClientCertificate | null;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  /** Idle keep-alive connections are closed after this long. */
  keepAliveTimeoutMs?: number;
}

export interface OriginRequest {
  method: string;
  /** The viewer's path and query; the client prepends the origin's base path. */
  path: string;
  headers: Record<string, string | string[]>;
  body: Readable | null;
  signal?: AbortSignal;
}

export interface OriginResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

export interface OriginClient {
  readonly originId: string;
  readonly context: OriginFailureContext;
  /** Sends one request; rejects with OriginFailureError when no response could be had. */
  request(request: OriginRequest): Promise<OriginResponse>;
  /** Stops taking requests and closes connections once the requests in flight are done. */
  close(): Promise<void>;
  /** Closes every connection now, with its cached TLS sessions: for a revoked client certificate. */
  destroy(): Promise<void>;
}

/**
 * Creates the pooled client of one origin.
 * @example
 * const client = createOriginClient({ distributionId: "shop", originId: "api", url: "https://api.internal:9443", basePath: "", hostHeader: "api.internal:9443", serverName: "api.internal",
 *   caPem, trustedCaLabel: "./origin-ca.pem", clientCertificate: { chainPem, keyPem, identity }, connectTimeoutMs: 5000, responseTimeoutMs: 30000 });
 * const res = await client.request({ method: "GET", path: "/", headers: {}, body: null });
 */
export function createOriginClient(options: OriginClientOptions): OriginClient {
  const context = contextOf(options);
  const pool = new Pool(options.url, {
    connect: createConnector(options),
    headersTimeout: options.responseTimeoutMs,
    bodyTimeout: options.responseTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
    pipelining: 1,
  });

  async function request(req: OriginRequest): Promise<OriginResponse> {
    try {
      const res = await pool.request({
        method: req.method as Dispatcher.HttpMethod,
        path: options.basePath + req.path,
        headers: { ...req.headers, host: options.hostHeader },
        body: req.body,
        signal: req.signal,
      });
      return { statusCode: res.statusCode, headers: res.headers, body: res.body };
    } catch (error) {
      throw toOriginFailure(error, context);
    }
  }

  return { originId: options.originId, context, request, close: () => pool.close(), destroy: () => pool.destroy() };
}

/**
 * Proves a client certificate before it goes live: one HEAD request on a connection of its own.
 * Any HTTP answer (even 404) shows the origin accepted the certificate; a failure is returned, not thrown.
 * @example
 * const failure = await probeOriginClient({ ...options, clientCertificate: renewed });
 * if (failure?.code === "origin-rejected-client-cert") keepTheOldCertificate();
 */
export async function probeOriginClient(options: OriginClientOptions): Promise<OriginFailureError | null> {
  const client = new Client(options.url, {
    connect: createConnector(options),
    headersTimeout: options.responseTimeoutMs,
    bodyTimeout: options.responseTimeoutMs,
  });
  try {
    const res = await client.request({ method: "HEAD", path: `${options.basePath}/`, headers: { host: options.hostHeader, "user-agent": "moat-edge/certificate-probe" } });
    await res.body.dump();
    return null;
  } catch (error) {
    const failure = toOriginFailure(error, contextOf(options));
    return failure instanceof OriginFailureError ? failure : new OriginFailureError("origin-connection-reset", contextOf(options), String(error));
  } finally {
    await client.destroy();
  }
}

function contextOf(options: OriginClientOptions): OriginFailureContext {
  return Object.freeze({
    distributionId: options.distributionId,
    originId: options.originId,
    url: options.url,
    serverName: options.serverName,
    trustedCa: options.trustedCaLabel,
    clientIdentity: options.clientCertificate?.identity ?? null,
    connectTimeoutMs: options.connectTimeoutMs,
    responseTimeoutMs: options.responseTimeoutMs,
  });
}

/** Maps a low-level error to OriginFailureError; an abort by the viewer stays an abort. */
function toOriginFailure(error: unknown, context: OriginFailureContext): unknown {
  if ((error as { name?: string })?.name === "AbortError" || (error as { code?: string })?.code === "UND_ERR_ABORTED") return error;
  const { code, detail } = classifyOriginError(error);
  return new OriginFailureError(code, context, detail, error);
}

function createConnector(options: OriginClientOptions): buildConnector.connector {
  const connect = buildConnector({
    ca: options.caPem,
    cert: options.clientCertificate?.chainPem,
    key: options.clientCertificate?.keyPem,
    minVersion: "TLSv1.2",
    // The edge offers origins what its own listeners accept: ECDHE with AEAD ciphers, modern groups.
    ...tlsPolicyOptions(),
    timeout: options.connectTimeoutMs,
    // undici caches one TLS session per server name, so new connections resume instead of full handshakes.
    maxCachedSessions: 100,
  });
  // The configured server name wins over the one undici derives from the Host header we send.
  // An IP address is never sent as SNI (RFC 6066 §3); Node then checks the certificate's IP SANs.
  const servername = isIP(options.serverName) ? undefined : options.serverName;
  return (connectOptions, callback) => connect({ ...connectOptions, servername }, callback);
}
