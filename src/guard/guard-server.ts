// The `moat guard` sidecar: terminates mTLS in front of an HTTP app, lets in only the edge of accepted distributions, and reloads its files on change.
import { constants } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Dispatcher } from "undici";
import { Pool } from "./undici-lib.ts";
// The defaults file alone, not config/index.ts: `moat/guard` stays free of the config loader (yaml, zod).
import { CONNECTION_DEFAULTS } from "../config/defaults.ts";
import { applyHttpsConnectionPolicy, type ConnectionLimits } from "../connections/index.ts";
import { ListenError } from "../errors.ts";
import type { Logger } from "../observe/index.ts";
// Directly: a node:tls-only module, where tls/index.ts would load the edge's PKI into moat/guard.
import { tlsPolicyOptions, type TlsPolicy } from "../tls/cipher-policy.ts";
import type { AcceptPolicy } from "./edge-identity.ts";
import { createEdgeVerifier, type EdgeVerifier } from "./edge-verifier.ts";
import { authoritiesWithoutCrl } from "./guard-trust.ts";
import { forwardRequest } from "./forward-request.ts";
import { acceptUpgrade, forwardUpgrade, isUpgrade, isWebSocketHandshake } from "./forward-upgrade.ts";
import { loadGuardMaterial, watchGuardFiles, type GuardFilePaths, type GuardMaterial } from "./guard-files.ts";
import { guardTlsOptions, sendRefusal, verifyRequest } from "./middleware.ts";
import { refusalCodeForHandshake } from "./refusal.ts";
import { upstreamTarget } from "./request-shape.ts";
import { holdTickObjectShape } from "../tick-shape.ts";

export interface GuardOptions {
  listen: { host: string; port: number };
  /** The app behind the guard, plain HTTP on this host or a private network: `http://127.0.0.1:8080`. */
  upstream: URL;
  files: GuardFilePaths;
  policy: AcceptPolicy;
  log: Logger;
  clock?: () => Date;
  /** Deadlines and caps for the edges' connections; default CONNECTION_DEFAULTS.guardConnections. */
  connections?: ConnectionLimits;
  /** Ciphers and key-exchange groups; default: defaultTlsPolicy() (ECDHE with AEAD under TLS 1.2). */
  tls?: TlsPolicy;
}

export interface RunningGuard {
  port: number;
  /** The material in use now. */
  material(): GuardMaterial;
  /** Re-reads the files now (the watch calls it); resolves true if something new went live. */
  reload(): Promise<boolean>;
  /** Stops accepting; requests in flight get `drainMs` (default 0: cut at once) to finish. */
  stop(drainMs?: number): Promise<void>;
}

/** A whole context: a reload's setSecureContext replaces ciphers and groups too, so they are in it every time. */
function tlsContextOptions(material: GuardMaterial, policy: TlsPolicy | undefined) {
  const { requestCert: _r, rejectUnauthorized: _u, ...context } = guardTlsOptions(material.trust);
  // The configured policy over guardTlsOptions' default one.
  return { ...context, ...tlsPolicyOptions(policy), key: material.keyPem, cert: material.certPem };
}

/** The first moment a loaded CRL runs out: from then on OpenSSL refuses every edge until a fresh one is loaded. */
function crlExpiry(material: GuardMaterial): Date | undefined {
  const times = material.trust.crls.flatMap((crl) => (crl.nextUpdate ? [crl.nextUpdate.getTime()] : []));
  return times.length ? new Date(Math.min(...times)) : undefined;
}

function describeMaterial(material: GuardMaterial) {
  return {
    crlNextUpdate: crlExpiry(material)?.toISOString(),
    version: material.version.slice(0, 16),
    roots: material.trust.anchors.map((cert) => cert.fingerprint256),
    intermediates: material.trust.intermediates.length,
    crls: material.trust.crls.length,
    isRevocationChecked: material.trust.isRevocationChecked,
  };
}

/** Says at load time what would otherwise show only as every handshake through a CA being refused. */
async function warnAboutUncoveredAuthorities(material: GuardMaterial, log: Logger): Promise<void> {
  const uncovered = await authoritiesWithoutCrl(material.trust);
  if (uncovered.length === 0) return;
  log.error(
    { cas: uncovered.map((ca) => ({ subject: ca.subject.replaceAll("\n", ", "), serial: ca.serialNumber.toLowerCase() })), fix: "load the CRL bundle that covers every CA of the trust bundle: moat ca crl (crl-bundle.pem)" },
    "the CRL file has no CRL for these CAs of the trust bundle: every edge whose chain runs through one is refused in the handshake",
  );
}

/** Verifies each request's edge, then forwards it or answers 403; one log line either way (the authentication trail). */
function guardRequestHandler(verifier: EdgeVerifier, upstream: Dispatcher, upstreamUrl: URL, log: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void verifyRequest(verifier, req).then(async (verdict) => {
      if (!verdict.ok) {
        log.warn({ refusal: verdict.code, detail: verdict.detail, remote: req.socket.remoteAddress, method: req.method, path: req.url }, "refused a request");
        return sendRefusal(res, verdict);
      }
      const { identity } = verdict;
      const target = upstreamTarget(req);
      if (!target.ok) {
        log.warn({ identity: identity.spiffeId, error: target.code, detail: target.detail, method: req.method }, "refused to forward a request");
        res.writeHead(target.status, { "content-type": "text/plain; charset=utf-8", "moat-guard-error": target.code, connection: "close" });
        return void res.end(`${target.status} ${target.code}: ${target.detail}\n`);
      }
      const outcome = isUpgrade(req) ? await forwardUpgrade(upstreamUrl, req, res, identity, target) : await forwardRequest(upstream, req, res, identity, target);
      const fields = { identity: identity.spiffeId, serial: identity.serialHex, method: req.method, path: req.url };
      if (typeof outcome === "number") log.info({ ...fields, status: outcome }, "forwarded");
      else log.error({ ...fields, error: outcome.code, detail: outcome.detail }, "upstream failed");
    }).catch((error: unknown) => {
      log.error({ detail: (error as Error).message, method: req.method, path: req.url }, "request failed in the guard");
      res.destroy();
    });
  };
}

/** Runs one `work` at a time; calls that arrive meanwhile fold into one more run after it. */
function oneAtATime(work: () => Promise<boolean>): () => Promise<boolean> {
  let running: Promise<boolean> | undefined;
  let isPending = false;
  const run = (): Promise<boolean> => {
    if (running) {
      isPending = true;
      return running;
    }
    running = work().finally(() => {
      running = undefined;
      if (isPending) {
        isPending = false;
        void run();
      }
    });
    return running;
  };
  return run;
}

/** Every raw connection, including ones still in their handshake, so that stop can end them. */
function trackSockets(server: https.Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return sockets;
}

function listen(server: https.Server, at: { host: string; port: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (error) => reject(new ListenError("the guard", at.host, at.port, error)));
    server.listen(at.port, at.host, () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Starts the guard. Throws (GuardTrustInvalidError, KeyFileInsecureError, ListenError) when its
 * files or port are unusable at start; later a bad file is logged and the running material kept.
 *
 * @example
 * const guard = await startGuard({ listen: { host: "0.0.0.0", port: 9443 }, upstream: new URL("http://127.0.0.1:8080"), files, policy, log });
 */
export async function startGuard(options: GuardOptions): Promise<RunningGuard> {
  const log = options.log.child({ part: "guard" });
  let material = await loadGuardMaterial(options.files);
  if (!material.trust.isRevocationChecked) log.warn("no CRL loaded: revoked edge certificates are accepted until they expire");
  await warnAboutUncoveredAuthorities(material, log);
  const verifier = createEdgeVerifier({ trust: material.trust, policy: options.policy, ...(options.clock ? { clock: options.clock } : {}) });
  const upstream = new Pool(options.upstream.origin, { connections: 128 });
  const limits = options.connections ?? CONNECTION_DEFAULTS.guardConnections;
  const tlsOptions = {
    ...tlsContextOptions(material, options.tls),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
    // Verdicts are kept per connection: no renegotiation may swap its peer certificate.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    // Half-open handshakes (no ClientHello, no certificate) go after this.
    handshakeTimeout: limits.handshakeMs,
    shouldUpgradeCallback: isWebSocketHandshake,
  } as const;
  const handler = guardRequestHandler(verifier, upstream, options.upstream, log);
  // A long-running server: idle collections must not slow every later request's nextTicks (src/tick-shape.ts).
  holdTickObjectShape();
  const server = https.createServer(tlsOptions, handler);
  const connectionPolicy = applyHttpsConnectionPolicy(server, limits, {
    log,
    listener: "guard",
    onOtherHandshakeError: (error, socket: TLSSocket, remote) => {
      log.warn({ refusal: refusalCodeForHandshake(error, socket), openssl: socket.authorizationError ?? (error as NodeJS.ErrnoException).code, remote }, "refused a handshake");
    },
  });
  // A WebSocket handshake is verified and forwarded by the same handler, with the edge's identity headers.
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => handler(req, acceptUpgrade(req, socket, head)));
  const sockets = trackSockets(server);
  // Says loudly when the CRL in use runs out, rather than leaving only a trail of refused handshakes.
  let expiryTimer: NodeJS.Timeout | undefined;
  const watchCrlExpiry = () => {
    clearTimeout(expiryTimer);
    const expiry = crlExpiry(material);
    if (!expiry) return;
    const delayMs = Math.max(0, expiry.getTime() - Date.now());
    if (delayMs > 2 ** 31 - 1) return;
    expiryTimer = setTimeout(() => log.error({ crlNextUpdate: expiry.toISOString(), files: options.files.crl }, "the CRL expired: every edge is refused until a fresh one is loaded (moat enrol renew --watch keeps it fresh)"), delayMs);
    expiryTimer.unref();
  };
  watchCrlExpiry();

  const reload = oneAtATime(async () => {
    let next: GuardMaterial;
    try {
      next = await loadGuardMaterial(options.files);
      if (next.version === material.version) return false;
      server.setSecureContext(tlsContextOptions(next, options.tls));
    } catch (error) {
      log.error({ error: (error as { code?: string }).code, detail: (error as Error).message }, "reload refused; the guard keeps its current certificate, bundle and CRL");
      return false;
    }
    verifier.setTrust(next.trust);
    material = next;
    watchCrlExpiry();
    log.info(describeMaterial(next), "guard reloaded");
    await warnAboutUncoveredAuthorities(next, log);
    return true;
  });
  const stopWatching = watchGuardFiles(options.files, () => void reload());

  const port = await listen(server, options.listen).catch(async (error: unknown) => {
    stopWatching();
    await upstream.destroy();
    throw error;
  });
  log.info({ host: options.listen.host, port, upstream: options.upstream.origin, policy: options.policy, ...describeMaterial(material) }, "guard listening");
  // Requests in flight finish (up to drainMs); idle keep-alive connections close at once.
  const stop = async (drainMs: number) => {
    stopWatching();
    clearTimeout(expiryTimer);
    connectionPolicy.stop();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const limit = setTimeout(() => sockets.forEach((socket) => socket.destroy()), drainMs);
    await closed;
    clearTimeout(limit);
    await upstream.destroy();
  };
  let stopping: Promise<void> | undefined;
  return { port, material: () => material, reload, stop: (drainMs = 0) => (stopping ??= stop(drainMs)) };
}
