// The `moat guard` sidecar: terminates mTLS in front of an HTTP app, lets in only the edge of accepted distributions, and reloads its files on change.
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Pool } from "undici";
import type { Logger } from "../observe/index.ts";
import type { AcceptPolicy } from "./edge-identity.ts";
import { createEdgeVerifier } from "./edge-verifier.ts";
import { forwardRequest } from "./forward-request.ts";
import { loadGuardMaterial, watchGuardFiles, type GuardFilePaths, type GuardMaterial } from "./guard-files.ts";
import { guardTlsOptions, sendRefusal, verifyRequest } from "./middleware.ts";
import { refusalCodeForHandshake } from "./refusal.ts";

export interface GuardOptions {
  listen: { host: string; port: number };
  /** The app behind the guard, plain HTTP on this host or a private network: `http://127.0.0.1:8080`. */
  upstream: URL;
  files: GuardFilePaths;
  policy: AcceptPolicy;
  log: Logger;
  clock?: () => Date;
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

function tlsContextOptions(material: GuardMaterial) {
  const { requestCert: _r, rejectUnauthorized: _u, ...context } = guardTlsOptions(material.trust);
  return { ...context, key: material.keyPem, cert: material.certPem };
}

function describeMaterial(material: GuardMaterial) {
  return {
    version: material.version.slice(0, 16),
    roots: material.trust.anchors.map((cert) => cert.fingerprint256),
    intermediates: material.trust.intermediates.length,
    crls: material.trust.crls.length,
    isRevocationChecked: material.trust.isRevocationChecked,
  };
}

/**
 * Starts the guard. Throws (GuardTrustInvalidError, KeyFileInsecureError, ListenError's cause) when
 * its files are unusable at start; later a bad file is logged and the running material kept.
 *
 * @example
 * const guard = await startGuard({ listen: { host: "0.0.0.0", port: 9443 }, upstream: new URL("http://127.0.0.1:8080"), files, policy, log });
 */
export async function startGuard(options: GuardOptions): Promise<RunningGuard> {
  const log = options.log.child({ part: "guard" });
  let material = await loadGuardMaterial(options.files);
  if (!material.trust.isRevocationChecked) log.warn("no CRL loaded: revoked edge certificates are accepted until they expire");
  const verifier = createEdgeVerifier({ trust: material.trust, policy: options.policy, ...(options.clock ? { clock: options.clock } : {}) });
  const upstream = new Pool(options.upstream.origin, { connections: 128 });
  const server = https.createServer({ ...tlsContextOptions(material), requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" }, (req, res) => {
    void verifyRequest(verifier, req).then(async (verdict) => {
      if (!verdict.ok) {
        log.warn({ refusal: verdict.code, detail: verdict.detail, remote: req.socket.remoteAddress, method: req.method, path: req.url }, "refused a request");
        return sendRefusal(res, verdict);
      }
      const { identity } = verdict;
      const outcome = await forwardRequest(upstream, req, res, identity);
      const fields = { identity: identity.spiffeId, serial: identity.serialHex, method: req.method, path: req.url };
      if (typeof outcome === "number") log.info({ ...fields, status: outcome }, "forwarded");
      else log.error({ ...fields, error: outcome.code, detail: outcome.detail }, "upstream failed");
    });
  });
  server.on("tlsClientError", (error, socket: TLSSocket) => {
    log.warn({ refusal: refusalCodeForHandshake(error, socket), openssl: socket.authorizationError ?? (error as NodeJS.ErrnoException).code, remote: socket.remoteAddress }, "refused a handshake");
  });
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  let reloading: Promise<boolean> | undefined;
  let isPending = false;
  const reloadOnce = async (): Promise<boolean> => {
    let next: GuardMaterial;
    try {
      next = await loadGuardMaterial(options.files);
    } catch (error) {
      log.error({ error: (error as { code?: string }).code, detail: (error as Error).message }, "reload refused; the guard keeps its current certificate, bundle and CRL");
      return false;
    }
    if (next.version === material.version) return false;
    try {
      server.setSecureContext(tlsContextOptions(next));
    } catch (error) {
      log.error({ detail: (error as Error).message }, "reload refused: OpenSSL would not load the new files; the guard keeps its current ones");
      return false;
    }
    verifier.setTrust(next.trust);
    material = next;
    log.info(describeMaterial(next), "guard reloaded");
    return true;
  };
  // One reload at a time; changes that arrive meanwhile fold into one more.
  const reload = (): Promise<boolean> => {
    if (reloading) {
      isPending = true;
      return reloading;
    }
    reloading = reloadOnce().finally(() => {
      reloading = undefined;
      if (isPending) {
        isPending = false;
        void reload();
      }
    });
    return reloading;
  };
  const stopWatching = watchGuardFiles(options.files, () => void reload());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: options.listen.host, port, upstream: options.upstream.origin, policy: options.policy, ...describeMaterial(material) }, "guard listening");
  let stopping: Promise<void> | undefined;
  // Requests in flight finish (up to drainMs); idle keep-alive connections close at once.
  const stop = async (drainMs: number) => {
    stopWatching();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const limit = setTimeout(() => sockets.forEach((socket) => socket.destroy()), drainMs);
    await closed;
    clearTimeout(limit);
    await upstream.destroy();
  };
  return {
    port,
    material: () => material,
    reload,
    stop: (drainMs = 0) => (stopping ??= stop(drainMs)),
  };
}
