// The viewer ports of an edge that serves (alone, or a worker): the HTTPS listener, the plain-HTTP redirect and the cache behind them; a primary never loads this file.
import type { Server } from "node:net";
import { createEdgeCache } from "../../cache/index.ts";
import type { MoatConfig } from "../../config/index.ts";
import { applyPlainHttpConnectionPolicy } from "../../connections/index.ts";
import { ListenError } from "../../errors.ts";
import { openAccessFile } from "../../observe/index.ts";
import type { RequestTracing } from "../../observe/index.ts";
import { loadUndici } from "../../origin/index.ts";
import type { EdgeSnapshot } from "../snapshot/edge-snapshot.ts";
import { createRedirectListener } from "./redirect-listener.ts";
import type { RunEdgeOptions } from "../runtime/run-edge.ts";
import { createViewerListener } from "./viewer-listener.ts";

/**
 * The viewer ports and the cache behind them; everything but a primary has them.
 * @example
 * const serving = await serveViewers(config, () => built.snapshot, options);
 */
export async function serveViewers(startConfig: MoatConfig, currentSnapshot: () => EdgeSnapshot, options: RunEdgeOptions, tracing?: RequestTracing) {
  const { log } = options;
  // This process proxies: undici is loaded now, not by the first miss.
  loadUndici();
  // The cache outlives snapshots: a reload keeps what is stored. Its tiers are read at start only.
  const cache = await createEdgeCache({
    storage: startConfig.cache,
    dataDir: startConfig.dataDir,
    log: log.child({ part: "cache" }),
    clock: options.clock,
    beforeDiskBatch: options.beforeDiskBatch,
    diskTmpDirName: options.worker === undefined ? undefined : `tmp-worker-${options.worker}`,
    diskSharers: options.workers,
    peers: options.cachePeers,
    storeInvalidations: options.storeInvalidations,
  });
  // The access log's own file, read at start: one per process (access-file.ts); event lines stay on stdout.
  const accessFile = startConfig.log.accessLogFile ? await openAccessFile(startConfig.log.accessLogFile, options.worker).catch(async (error: unknown) => {
    await cache.stop();
    throw error;
  }) : null;
  const viewer = createViewerListener({ currentSnapshot, log: log.child({ part: "edge" }), cache, connections: startConfig.connections, tls: startConfig.listen.tls, accessDestination: accessFile?.destination, tracing });
  const httpsPort = await listen(viewer.server, "viewers (HTTPS)", startConfig.listen.host, startConfig.listen.httpsPort).catch(async (error: unknown) => {
    await cache.stop();
    await accessFile?.close();
    throw error;
  });
  // Redirects name the port actually bound (the config may say 0).
  const redirect = startConfig.listen.httpPort === null ? null : createRedirectListener({ currentSnapshot, httpsPort, dataDir: startConfig.dataDir });
  // The plain-HTTP port has the viewer port's deadlines and caps (counted for itself): a silent
  // connection there holds a descriptor just the same.
  const redirectPolicy = redirect ? applyPlainHttpConnectionPolicy(redirect, startConfig.connections, { log: log.child({ part: "edge" }), listener: "redirect" }) : null;
  let httpPort: number | null = null;
  try {
    if (redirect) httpPort = await listen(redirect, "the HTTP redirect", startConfig.listen.host, startConfig.listen.httpPort ?? 0);
  } catch (error) {
    // Half an edge is worse than none: the HTTPS port closes again and the caller sees why.
    await new Promise((resolve) => viewer.server.close(resolve));
    await cache.stop();
    await accessFile?.close();
    throw error;
  }
  async function stop(): Promise<void> {
    const redirectClosed = redirect ? new Promise<void>((resolve) => redirect.close(() => resolve())) : Promise.resolve();
    redirect?.closeAllConnections();
    redirectPolicy?.stop();
    await Promise.all([viewer.drain(), redirectClosed]);
    // Ends the disk index loader too: nothing is loaded or deleted after the edge stopped.
    await cache.stop();
    // After the drain: every request's line is in, and goes to the file before it closes.
    await accessFile?.close();
  }
  return { viewer, cache, httpsPort, httpPort, stop, accessFile };
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
