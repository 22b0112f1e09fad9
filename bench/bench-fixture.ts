// Starts what the bench measures, all in this process on 127.0.0.1: an ephemeral CA, an mTLS origin and a Moat edge.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../src/config/index.ts";
import { runEdge } from "../src/edge/index.ts";
import { createLogger } from "../src/observe/index.ts";
import { createEphemeralCertificateAuthority, generateMasterKey } from "../src/pki/index.ts";
import type { IssuedCertificate } from "../src/pki/index.ts";
import { startBenchOrigin } from "./bench-origin.ts";

/** The viewer-facing name the edge serves; SNI and Host of every edge request. */
export const EDGE_HOST = "bench.test";

/** Where a viewer connects and what it trusts and presents. */
export interface BenchTarget {
  port: number;
  servername: string;
  caPem: string;
  /** Only the direct (viewer → origin) target needs one: the origin requires mTLS. */
  clientCertificate: IssuedCertificate | null;
}

export interface BenchFixture {
  origin: BenchTarget;
  edge: BenchTarget;
  close(): Promise<void>;
}

const HOUR_MS = 3_600_000;

/**
 * @example
 * const fixture = await startBenchFixture();
 * // ... measure fixture.origin and fixture.edge ...
 * await fixture.close(); // after every bench client is closed
 */
export async function startBenchFixture(): Promise<BenchFixture> {
  const ca = await createEphemeralCertificateAuthority();
  const serverCertificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: HOUR_MS });
  // The direct baseline presents a certificate the origin accepts, issued the way the edge's own is.
  const directClient = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "bench-direct", originId: "origin", validityMs: HOUR_MS });
  const origin = await startBenchOrigin({ certificate: serverCertificate, clientCaPem: ca.bundlePem });
  const dataDir = await mkdtemp(join(tmpdir(), "moat-bench-"));
  const config = parseConfig(
    {
      dataDir,
      listen: { host: "127.0.0.1", https: 0, http: "off" },
      distributions: [{ id: "bench", aliases: [EDGE_HOST], origins: [{ id: "origin", url: `https://localhost:${origin.port}` }] }],
    },
    { source: "bench", baseDir: dataDir },
  );
  // Silent: an access-log line per request would measure pino, not the proxy.
  const edge = await runEdge({ config, ca, masterKey: generateMasterKey(), log: createLogger({ level: "silent" }) });
  return {
    origin: { port: origin.port, servername: "localhost", caPem: ca.bundlePem, clientCertificate: directClient },
    edge: { port: edge.httpsPort, servername: EDGE_HOST, caPem: ca.bundlePem, clientCertificate: null },
    close: async () => {
      await edge.stop();
      await origin.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
