// Runs an edge: builds a snapshot from a config, listens, swaps snapshots on reload and renewal, drains on stop.
import { join } from "node:path";
import type { Server } from "node:net";
import type { MoatConfig } from "../config/index.ts";
import { ListenError } from "../errors.ts";
import type { Logger } from "../observe/index.ts";
import type { OriginClient } from "../origin/index.ts";
import { createIssuedCertificateStore } from "../pki/index.ts";
import type { CertificateAuthority } from "../pki/index.ts";
import { buildEdgeSnapshot } from "./build-snapshot.ts";
import type { BuiltSnapshot } from "./build-snapshot.ts";
import type { EdgeSnapshot } from "./edge-snapshot.ts";
import { createRedirectListener } from "./redirect-listener.ts";
import { createViewerListener } from "./viewer-listener.ts";

export interface RunningEdge {
  /** Bound ports (useful when the config asked for port 0). */
  readonly httpsPort: number;
  readonly httpPort: number | null;
  current(): EdgeSnapshot;
  /** Builds a snapshot from `config` and swaps it in; on failure the running snapshot stays. */
  apply(config: MoatConfig): Promise<EdgeSnapshot>;
  /** Stops accepting, lets requests in flight finish, closes origin pools. */
  stop(): Promise<void>;
}

export interface RunEdgeOptions {
  config: MoatConfig;
  ca: CertificateAuthority;
  log: Logger;
}

/**
 * @example
 * const edge = await runEdge({ config, ca, log });
 * await edge.apply(await loadConfigFile(file)); // reload
 * await edge.stop();
 */
export async function runEdge(options: RunEdgeOptions): Promise<RunningEdge> {
  const { ca, log } = options;
  const startConfig = options.config;
  const store = createIssuedCertificateStore({ ca, dataDir: startConfig.dataDir });
  const caBundleFile = join(startConfig.dataDir, "ca", "bundle.pem");
  let generation = 0;
  let built: BuiltSnapshot = await buildEdgeSnapshot(startConfig, { ca, caBundleFile, store, generation: ++generation });
  let renewalTimer: NodeJS.Timeout | undefined;
  let isStopped = false;
  let currentConfig = startConfig;
  const viewer = createViewerListener({ currentSnapshot: () => built.snapshot, log: log.child({ part: "edge" }) });
  const httpsPort = await listen(viewer.server, "viewers (HTTPS)", startConfig.listen.host, startConfig.listen.httpsPort);
  // Redirects name the port actually bound (the config may say 0).
  const redirect = startConfig.listen.httpPort === null ? null : createRedirectListener({ currentSnapshot: () => built.snapshot, httpsPort });
  let httpPort: number | null = null;
  try {
    if (redirect) httpPort = await listen(redirect, "the HTTP redirect", startConfig.listen.host, startConfig.listen.httpPort ?? 0);
  } catch (error) {
    // Half an edge is worse than none: the HTTPS port closes again and the caller sees why.
    await new Promise((resolve) => viewer.server.close(resolve));
    throw error;
  }
  log.info({ httpsPort, httpPort, ...describeSnapshot(built) }, "edge listening");
  scheduleRenewal();

  async function apply(config: MoatConfig): Promise<EdgeSnapshot> {
    if (config.listen.host !== startConfig.listen.host || config.listen.httpsPort !== startConfig.listen.httpsPort || config.listen.httpPort !== startConfig.listen.httpPort) {
      log.warn({ listen: config.listen }, "listen settings changed: they take effect at the next restart; the running ports stay");
    }
    if (config.dataDir !== startConfig.dataDir) {
      log.warn({ dataDir: config.dataDir, running: startConfig.dataDir }, "dataDir changed: it takes effect at the next restart; the running edge keeps its data directory");
    }
    const next = await buildEdgeSnapshot(config, { ca, caBundleFile, store, generation: ++generation, previousClients: built.clients });
    const previous = built;
    built = next;
    currentConfig = config;
    retireClients(previous, next);
    scheduleRenewal();
    log.info(describeSnapshot(next), "snapshot applied");
    return next.snapshot;
  }

  // Pools that the new snapshot no longer uses close once their requests in flight are done:
  // undici's close() waits for them. A failover to a retired pool's secondary is still served,
  // because the grace period outlasts a response timeout.
  function retireClients(previous: BuiltSnapshot, next: BuiltSnapshot): void {
    const kept = new Set<OriginClient>(next.clients.values());
    const retired = [...previous.clients.values()].filter((client) => !kept.has(client));
    if (retired.length === 0) return;
    const graceMs = Math.max(...retired.map((client) => client.context.responseTimeoutMs + client.context.connectTimeoutMs)) + 1000;
    setTimeout(() => void Promise.allSettled(retired.map((client) => client.close())), graceMs).unref();
  }

  // Issued certificates renew by rebuilding the snapshot with the same config: the store
  // re-issues whatever is past two thirds of its life (rotation proper arrives with the lifecycle work).
  function scheduleRenewal(): void {
    clearTimeout(renewalTimer);
    if (isStopped || built.renewAt === null) return;
    const delayMs = Math.min(Math.max(built.renewAt.getTime() - Date.now(), 1000), 2 ** 31 - 1);
    renewalTimer = setTimeout(() => {
      apply(currentConfig).catch((error: Error) => {
        log.error({ error: { code: (error as { code?: string }).code, message: error.message } }, "certificate renewal failed; retrying in 30 s");
        renewalTimer = setTimeout(scheduleRenewal, 30_000).unref();
      });
    }, delayMs).unref();
  }

  async function stop(): Promise<void> {
    isStopped = true;
    clearTimeout(renewalTimer);
    const redirectClosed = redirect ? new Promise<void>((resolve) => redirect.close(() => resolve())) : Promise.resolve();
    redirect?.closeAllConnections();
    await Promise.all([viewer.drain(), redirectClosed]);
    await Promise.allSettled([...built.clients.values()].map((client) => client.close()));
    log.info("edge stopped");
  }

  return { httpsPort, httpPort, current: () => built.snapshot, apply, stop };
}

/** What an operator wants to see after a start or reload: which certificates are in use, and when they renew. */
function describeSnapshot(built: BuiltSnapshot): Record<string, unknown> {
  return {
    snapshot: built.snapshot.generation,
    renewAt: built.renewAt?.toISOString() ?? null,
    distributions: built.snapshot.distributions.map((d) => ({ id: d.id, aliases: d.aliases, viewerCertificateSerial: d.viewerCertificateSerial })),
    originClients: [...built.clients.values()].map((c) => ({ distribution: c.context.distributionId, origin: c.originId, identity: c.context.clientIdentity })),
  };
}

function listen(server: Server, what: string, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: unknown) => reject(new ListenError(what, host, port, error));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}
