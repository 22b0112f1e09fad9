// A pooled keep-alive mTLS client for one origin: presents the origin's client certificate and verifies the origin's own.
import { isIP } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Duplex, Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { OriginFailureError } from "../errors.ts";
import type { OriginFailureContext } from "../errors.ts";
import { edgeMetrics } from "../observe/index.ts";
import type { Logger, OriginPoolStats } from "../observe/index.ts";
import { tlsPolicyOptions } from "../tls/index.ts";
import { classifyOriginError, RefusalPageAnswer, refusalPageOf, watchHandshakeOffer } from "./classify-origin-error.ts";
import { dispatchToOrigin, forwardedHost } from "./origin-dispatch.ts";
import type { Cancellation, ExchangeSettling } from "./origin-dispatch.ts";
import { TargetResponse } from "./origin-target.ts";
import { isClosedBeforeAnswer, isReplayable, watchConnectionReuse } from "./connection-reuse.ts";
import { noteOriginConnection, watchOriginSessions } from "./origin-connection.ts";
import type { OriginConnectionUse } from "./origin-connection.ts";
import { upgradeThrough } from "./origin-upgrade.ts";
import { Client, Pool, buildConnector } from "./undici-lib.ts";
import type { Connector, ConnectorCallback } from "./undici-lib.ts";
import type { OriginUpgradeAnswer, OriginUpgradeRequest } from "./origin-upgrade.ts";

const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 60_000;

export interface OriginClientCertificate {
  chainPem: string;
  keyPem: string;
  /** How the certificate is named in errors and logs, e.g. its SPIFFE URI and serial. */
  identity: string;
  /** Its serial number in hex, for the access log. */
  serialHex?: string;
}

export interface OriginClientOptions {
  distributionId: string;
  originId: string;
  /** Origin as "https://host:port". */
  url: string;
  /** Prefix of every request path, "" or "/base" (the URL's path in the config). */
  basePath: string;
  /** Host header sent to the origin: its host[:port]; null towards an origin shield: the viewer's Host (see origin-dispatch.ts). */
  hostHeader: string | null;
  serverName: string;
  /** CA certificates (PEM) that the origin's server certificate must chain to. */
  caPem: string;
  /** Where `caPem` came from, for error messages. */
  trustedCaLabel: string;
  clientCertificate: OriginClientCertificate | null;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  /** Set when `url` is an origin shield rather than the origin: errors and logs say so. */
  isShield?: boolean;
  /** Idle keep-alive connections are closed after this long (default 60 s), or sooner when the origin's Keep-Alive: timeout says so. */
  keepAliveTimeoutMs?: number;
}

export interface OriginRequest {
  method: string;
  /** The viewer's path and query; the client prepends the origin's base path. */
  path: string;
  headers: Readonly<Record<string, string | string[]>>;
  /** A viewer's upload is a stream; bytes in memory can be replayed on a retry. */
  body: Readable | Uint8Array | string | null;
  /** Cuts the request when its viewer leaves (see origin-dispatch.ts). */
  cancel?: Cancellation;
  /** The viewer request's id, for the log line of a retry. */
  requestId?: string;
  /** Told the fields of each 103 (Early Hints) before the final response; other 1xx are not passed on. */
  onEarlyHints?(headers: Record<string, string | string[]>): void;
}

export interface OriginResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** The whole body's chunks when it has already arrived and `body` was never read; else null (read `body`). See origin-dispatch.ts. */
  wholeBody?(): Buffer[] | null;
  /** How the request's connection came to be; null when it is not known (a response not from an origin connection). */
  readonly connectionUse?: OriginConnectionUse | null;
  /** SHA-256 fingerprint of the origin's certificate on that connection ("" when not known). */
  readonly serverFingerprint256?: string;
  /** Milliseconds from the request head written to the response head read. */
  readonly originMs?: number;
}

export interface OriginClient {
  readonly originId: string;
  readonly context: OriginFailureContext;
  /** The serial (hex) of the client certificate this client presents to the origin; null without one. */
  readonly clientSerial: string | null;
  /** Sends one request; rejects with OriginFailureError when no response could be had. */
  request(request: OriginRequest): Promise<OriginResponse>;
  /** request() whose answer is already a target's (this origin answered, no failover): no .then per request to make it one. */
  requestAsTarget(request: OriginRequest): Promise<TargetResponse>;
  /** Asks for a WebSocket on a connection of the pool (the same TLS identity); rejects with OriginFailureError when no answer could be had. */
  upgrade(request: OriginUpgradeRequest): Promise<OriginUpgradeAnswer>;
  /** Stops taking requests and closes connections once the requests in flight are done. */
  close(): Promise<void>;
  /** Closes every connection now, upgraded ones (WebSockets) too, with its cached TLS sessions: for a revoked client certificate. */
  destroy(): Promise<void>;
  /** The pool's connections and requests now; null before its first request (the pool is made then). For metrics. */
  poolStats(): OriginPoolStats | null;
}

/**
 * Creates the pooled client of one origin.
 * @example
 * const client = createOriginClient({ distributionId: "shop", originId: "api", url: "https://api.internal:9443", basePath: "", hostHeader: "api.internal:9443", serverName: "api.internal",
 *   caPem, trustedCaLabel: "./origin-ca.pem", clientCertificate: { chainPem, keyPem, identity }, connectTimeoutMs: 5000, responseTimeoutMs: 30000 });
 * const res = await client.request({ method: "GET", path: "/", headers: {}, body: null });
 */
export function createOriginClient(options: OriginClientOptions, log?: Logger): OriginClient {
  const context = contextOf(options);
  // The connector and the pool are made at the first request, not with the snapshot: an edge with
  // thousands of distributions holds a pool only for the origins that have had a miss.
  let connect: Connector | null = null;
  let pool: InstanceType<typeof Pool> | null = null;
  const connector = () => (connect ??= createOriginConnector(options));
  // Set by close() or destroy(): a pool made after it (a late request on a retired client) is closed at once, so the request fails as on a closed pool.
  let ending: "close" | "destroy" | null = null;
  const poolNow = () => {
    if (pool) return pool;
    pool = createPool();
    if (ending) void pool[ending]().catch(() => {});
    return pool;
  };
  const createPool = () =>
    new Pool(options.url, {
      connect: connector(),
      headersTimeout: options.responseTimeoutMs,
      bodyTimeout: options.responseTimeoutMs,
      // undici's own default (4 s) closes a pool between bursts: each miss after a pause paid a TLS handshake.
      // 60 s is nginx's upstream keepalive_timeout; an origin that announces a shorter Keep-Alive timeout is
      // believed (undici closes the connection before it, by keepAliveTimeoutThreshold).
      keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      pipelining: 1,
    });
  // Retry connections still serving their response, with their closing once it has been asked for.
  const retries = new Map<Client, Promise<void> | null>();

  // A failure before the answer: a keep-alive connection the origin closed is retried once on a new one (when the
  // request can be sent again), anything else becomes an OriginFailureError.
  function recover(error: unknown, req: OriginRequest): Promise<OriginResponse> {
    if (!isClosedBeforeAnswer(error) || req.cancel?.reason || !isReplayable(req.method, req.body)) throw toOriginFailure(error, context);
    log?.warn(
      { requestId: req.requestId, distribution: options.distributionId, origin: options.originId, method: req.method, cause: classifyOriginError(error).detail },
      "origin closed a reused keep-alive connection before answering; retrying once on a new connection",
    );
    return retryOnNewConnection(req);
  }

  // Not async functions, and no .then or .catch: the answer is the dispatch's own promise, with no frame or promise of
  // its own to wait on (a miss's path is promise after promise); made once per client, not as closures per request.
  const plainly: ExchangeSettling<OriginResponse> = { answer: (answer) => answer, recover: (error, req) => recover(error, req as OriginRequest) };
  const asTarget: ExchangeSettling<TargetResponse> = {
    answer: (answer) => new TargetResponse(answer, client, null),
    recover: (error, req) => recover(error, req as OriginRequest).then((response) => new TargetResponse(response, client, null)),
  };
  const request = (req: OriginRequest): Promise<OriginResponse> => dispatchToOrigin(poolNow(), options, req, plainly);
  const requestAsTarget = (req: OriginRequest): Promise<TargetResponse> => dispatchToOrigin(poolNow(), options, req, asTarget);

  // An origin's reload closes all its idle keep-alive connections at once: the pool may hold more
  // dead ones, so the retry goes on a connection of its own, closed once its response has been read.
  // The connector is shared: the new connection resumes the pool's TLS session.
  async function retryOnNewConnection(req: OriginRequest): Promise<OriginResponse> {
    const client = new Client(options.url, { connect: connector(), headersTimeout: options.responseTimeoutMs, bodyTimeout: options.responseTimeoutMs, pipelining: 1 });
    retries.set(client, null);
    const release = (ending: Promise<void>) => {
      const settled = ending.catch(() => undefined).finally(() => retries.delete(client));
      retries.set(client, settled);
    };
    try {
      const response = await send(client, options, req);
      release(client.close());
      return response;
    } catch (error) {
      release(client.destroy());
      throw toOriginFailure(error, context);
    }
  }

  // Upgraded connections leave the pool; a revoked certificate must not live on in one of them.
  const upgraded = new Set<Duplex>();
  const upgrade = (req: OriginUpgradeRequest) =>
    upgradeThrough(poolNow(), { ...req, path: options.basePath + req.path, servername: options.serverName, headers: { ...req.headers, host: options.hostHeader ?? forwardedHost(req.headers) } }, (error) => toOriginFailure(error, context), upgraded);

  const client: OriginClient = {
    originId: options.originId,
    context,
    clientSerial: options.clientCertificate?.serialHex ?? null,
    request,
    requestAsTarget,
    upgrade,
    close: async () => {
      ending ??= "close";
      await Promise.all([pool?.close(), ...[...retries].map(([client, closing]) => closing ?? client.close())]);
    },
    poolStats: () => {
      if (pool === null) return null;
      const { connected, free, pending, running } = pool.stats;
      return { connected, free, pending, running };
    },
    destroy: async () => {
      ending = "destroy";
      for (const socket of upgraded) socket.destroy();
      await Promise.all([pool?.destroy(), ...[...retries.keys()].filter((client) => !client.destroyed).map((client) => client.destroy())]);
    },
  };
  return client;
}

function send(dispatcher: Dispatcher, options: OriginClientOptions, req: OriginRequest): Promise<OriginResponse> {
  // The request is the exchange as it is (no copy); the options say where it goes (Host, base path).
  return dispatchToOrigin(dispatcher, options, req);
}

/**
 * Proves a client certificate before it goes live: one GET request on a connection of its own, reading at most the
 * start of the body. Any HTTP answer (even 404) shows the origin accepted the certificate, except the 400 page nginx
 * answers when it refused it after the handshake (refusalPageOf, which live requests are judged by too); a failure is
 * returned, not thrown.
 * @example
 * const failure = await probeOriginClient({ ...options, clientCertificate: renewed });
 * if (failure?.code === "origin-rejected-client-cert") keepTheOldCertificate();
 */
export async function probeOriginClient(options: OriginClientOptions): Promise<OriginFailureError | null> {
  const answer = await probeOrigin(options, undefined, "GET");
  if ("failure" in answer) return answer.failure;
  const page = refusalPageOf(answer.statusCode, answer.bodyStart);
  // Classified as live requests answered with the page are (origin-dispatch.ts): the same code, detail and fix.
  return page ? (toOriginFailure(new RefusalPageAnswer(page), contextOf(options)) as OriginFailureError) : null;
}

/** What a probe learnt: the origin's HTTP status (and with GET, the start of the body), or the failure classified as the edge classifies it. */
export type OriginProbeAnswer = { statusCode: number; bodyStart: string } | { failure: OriginFailureError };

/** How much of a GET probe's body is kept: enough for an error page's title. */
const PROBE_BODY_BYTES = 4096;

/**
 * The certificate probe's HEAD request, with what it got: the status, or the classified failure. `onConnection` is
 * told each TLS socket the edge's connector opens (handshake done), for a caller that describes the connection.
 * @example
 * const answer = await probeOrigin(options, (socket) => (seen = socket));
 */
export async function probeOrigin(options: OriginClientOptions, onConnection?: (socket: TLSSocket) => void, method: "HEAD" | "GET" = "HEAD"): Promise<OriginProbeAnswer> {
  const connect = createOriginConnector(options);
  const client = new Client(options.url, {
    connect: onConnection
      ? (connectOptions, callback) =>
          connect(connectOptions, (...args: Parameters<ConnectorCallback>) => {
            if (args[1]) onConnection(args[1] as TLSSocket);
            callback(...args);
          })
      : connect,
    headersTimeout: options.responseTimeoutMs,
    bodyTimeout: options.responseTimeoutMs,
  });
  try {
    const res = await client.request({ method, path: `${options.basePath}/`, headers: { host: options.hostHeader ?? options.serverName, "user-agent": "moat-edge/certificate-probe" } });
    if (method === "HEAD") {
      await res.body.dump();
      return { statusCode: res.statusCode, bodyStart: "" };
    }
    // The start of the body only: leaving the loop destroys the rest, and the client is destroyed below.
    const chunks: Buffer[] = [];
    let kept = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      kept += chunk.length;
      if (kept >= PROBE_BODY_BYTES) break;
    }
    return { statusCode: res.statusCode, bodyStart: Buffer.concat(chunks).subarray(0, PROBE_BODY_BYTES).toString("utf8") };
  } catch (error) {
    const failure = toOriginFailure(error, contextOf(options));
    return { failure: failure instanceof OriginFailureError ? failure : new OriginFailureError("origin-connection-reset", contextOf(options), String(error)) };
  } finally {
    await client.destroy();
  }
}

function contextOf(options: OriginClientOptions): OriginFailureContext {
  return Object.freeze({
    distributionId: options.distributionId,
    originId: options.originId,
    // "origin api (https://shield:8443, the origin shield)": the failure's message names the hop that failed.
    url: options.isShield ? `${options.url}, the origin shield` : options.url,
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
  edgeMetrics?.originFailure(context.distributionId, context.originId, code);
  return new OriginFailureError(code, context, detail, error);
}

/**
 * The connector of an origin's connections: its client certificate, CA bundle, server name and the edge's TLS
 * policy. `moat doctor origin` connects through it too, so that it connects exactly as the edge does.
 */
export function createOriginConnector(options: OriginClientOptions): Connector {
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
  const sessions = { fingerprint256: "" };
  return (connectOptions, callback) => {
    // undici's connector returns the socket it made (its types say void): watched before it can fail.
    const socket = connect({ ...connectOptions, servername }, (...args: Parameters<ConnectorCallback>) => {
      const connected = args[1];
      if (connected) {
        // Metrics read once per connection: with them off, a connection and its requests cost nothing more.
        const metrics = edgeMetrics;
        if (metrics !== undefined) metrics.originConnection(options.distributionId, options.originId, (connected as TLSSocket).isSessionReused() ? "resumed" : "full");
        watchConnectionReuse(connected, metrics && (() => metrics.originConnection(options.distributionId, options.originId, "reused")));
        noteOriginConnection(connected as TLSSocket, sessions);
      }
      callback(...args);
    }) as unknown as TLSSocket | undefined;
    if (socket) {
      watchHandshakeOffer(socket);
      watchOriginSessions(socket, sessions);
    }
  };
}
