// Starts a real edge for a test from a config object, with its own data dir and an in-memory CA.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { parseConfig } from "../../src/config/index.ts";
import type { MoatConfig } from "../../src/config/index.ts";
import { runEdge } from "../../src/edge/index.ts";
import type { RunningEdge } from "../../src/edge/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";

export interface TestEdge {
  edge: RunningEdge;
  config: MoatConfig;
  dataDir: string;
  /** Every log line the edge wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Builds a config from `input` the same way and applies it (a reload). */
  reload(input: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** Captures pino's JSON lines so tests can assert what was logged. */
export function createLogCapture(): { logs: Record<string, unknown>[]; stream: Writable } {
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logs, stream };
}

/** `input` is a config as a user would write it, minus dataDir and listen (the test's own). */
export async function startTestEdge(ca: CertificateAuthority, input: Record<string, unknown>): Promise<TestEdge> {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-edge-"));
  const toConfig = (raw: Record<string, unknown>) =>
    parseConfig({ dataDir, listen: { host: "127.0.0.1", https: 0, http: 0 }, ...raw }, { source: "test", baseDir: dataDir });
  const config = toConfig(input);
  const capture = createLogCapture();
  const edge = await runEdge({ config, ca, log: createLogger({ level: "info", destination: capture.stream }) });
  return {
    edge,
    config,
    dataDir,
    logs: capture.logs,
    reload: async (raw) => {
      await edge.apply(toConfig(raw));
    },
    close: async () => {
      await edge.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
