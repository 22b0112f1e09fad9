// Starts a real edge for a test from a config object, with its own data dir and an in-memory CA.
import { EventEmitter } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { parseConfig } from "../../src/config/index.ts";
import type { MoatConfig } from "../../src/config/index.ts";
import { runEdge } from "../../src/edge/index.ts";
import type { RunningEdge } from "../../src/edge/index.ts";
import type { BeforeBatch, Clock } from "../../src/cache/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { generateMasterKey } from "../../src/pki/index.ts";
import type { CertificateAuthority, MasterKey } from "../../src/pki/index.ts";

export interface TestEdge {
  edge: RunningEdge;
  config: MoatConfig;
  dataDir: string;
  /** The key the edge's stored private keys are encrypted under. */
  masterKey: MasterKey;
  /** Every log line the edge wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line (already written or still to come) that matches; rejects after `ms` (default 30 s) naming the last lines. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  /** Builds a config from `input` the same way and applies it (a reload). */
  reload(input: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** Captures pino's JSON lines so tests can assert what was logged. */
export function createLogCapture(): {
  logs: Record<string, unknown>[];
  stream: Writable;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
} {
  const logs: Record<string, unknown>[] = [];
  const lines = new EventEmitter();
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString("utf8").split("\n")) {
        if (!text) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        logs.push(line);
        lines.emit("line", line);
      }
      callback();
    },
  });
  // Every wait has a deadline: a line that never comes fails the test with what was logged instead of hanging the run.
  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean, ms = 30_000) => {
    const found = logs.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const onLine = (line: Record<string, unknown>) => {
        if (!predicate(line)) return;
        lines.off("line", onLine);
        clearTimeout(timer);
        resolve(line);
      };
      const timer = setTimeout(() => {
        lines.off("line", onLine);
        const last = logs.slice(-8).map((line) => `  ${JSON.stringify(line).slice(0, 400)}`).join("\n");
        reject(new Error(`no log line matched ${predicate.toString().slice(0, 200)} within ${ms} ms; the last lines:\n${last}`));
      }, ms);
      lines.on("line", onLine);
    });
  };
  return { logs, stream, waitForLog };
}

/** `input` is a config as a user would write it, minus dataDir and listen (the test's own). */
export async function startTestEdge(
  ca: CertificateAuthority,
  input: Record<string, unknown>,
  options: { dataDir?: string; masterKey?: MasterKey; clock?: Clock; keepDataDir?: boolean; logLevel?: "info" | "debug"; beforeDiskBatch?: BeforeBatch; edgeName?: string } = {},
): Promise<TestEdge> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "moat-edge-")));
  const toConfig = (raw: Record<string, unknown>) =>
    parseConfig({ dataDir, listen: { host: "127.0.0.1", https: 0, http: 0 }, ...raw }, { source: "test", baseDir: dataDir });
  const config = toConfig(input);
  const capture = createLogCapture();
  const masterKey = options.masterKey ?? generateMasterKey();
  const edge = await runEdge({ config, ca, masterKey, log: createLogger({ level: options.logLevel ?? "info", destination: capture.stream }), clock: options.clock, beforeDiskBatch: options.beforeDiskBatch, edgeName: options.edgeName ?? null });
  return {
    edge,
    config,
    dataDir,
    masterKey,
    logs: capture.logs,
    waitForLog: capture.waitForLog,
    reload: async (raw) => {
      await edge.apply(toConfig(raw));
    },
    close: async () => {
      await edge.stop();
      if (!options.keepDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
