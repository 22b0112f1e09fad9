// A running `moat guard` (in process) for tests: its files in a temp directory as an operator lays them out, an upstream app that records what it saw, and the guard's log lines.
import { once } from "node:events";
import { chmod, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { GUARD_DIR_FILES, startGuard, type RunningGuard } from "../../src/guard/index.ts";
import type { GuardFilePaths } from "../../src/guard/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { createLogCapture } from "../support/test-edge.ts";
import { TRUST_DOMAIN, type GuardPki } from "./guard-pki.ts";

export interface UpstreamApp {
  url: string;
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
}

export async function startUpstreamApp(t: TestContext): Promise<UpstreamApp> {
  const seen: UpstreamApp["seen"] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.writeHead(200, { "content-type": "text/plain", "x-app": "legacy" });
      res.end(`app saw ${req.headers["moat-edge-identity"]} ${body.length}`);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Writes a file as Moat does: a temp file renamed over the old one. */
export async function replaceFile(path: string, contents: string): Promise<void> {
  await writeFile(`${path}.tmp`, contents, { mode: 0o644 });
  await rename(`${path}.tmp`, path);
}

export interface GuardFixture {
  guard: RunningGuard;
  dir: string;
  files: GuardFilePaths;
  app: UpstreamApp;
  logs: Record<string, unknown>[];
  waitForLog(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/** The guard's files from `pki`: its server certificate, Moat's roots + intermediate, the CRL bundle. */
export async function writeGuardFiles(t: TestContext, pki: GuardPki): Promise<{ dir: string; files: GuardFilePaths }> {
  const dir = await mkdtemp(join(tmpdir(), "moat-guard-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const server = await pki.server();
  const files = { cert: join(dir, GUARD_DIR_FILES.cert), key: join(dir, GUARD_DIR_FILES.key), caBundle: join(dir, GUARD_DIR_FILES.caBundle), crl: join(dir, GUARD_DIR_FILES.crl) };
  await writeFile(files.cert, server.chainPem);
  await writeFile(files.key, server.keyPem, { mode: 0o600 });
  await chmod(files.key, 0o600);
  await writeFile(files.caBundle, pki.ca.bundlePem + pki.ca.intermediatePem);
  await writeFile(files.crl, await pki.crlBundle());
  return { dir, files };
}

export async function startGuardFixture(t: TestContext, pki: GuardPki, distributions = ["shop"]): Promise<GuardFixture> {
  const { dir, files } = await writeGuardFiles(t, pki);
  const app = await startUpstreamApp(t);
  const capture = createLogCapture();
  const guard = await startGuard({
    listen: { host: "127.0.0.1", port: 0 },
    upstream: new URL(app.url),
    files,
    policy: { trustDomain: TRUST_DOMAIN, distributions },
    log: createLogger({ level: "info", destination: capture.stream }),
  });
  t.after(() => guard.stop());
  return { guard, dir, files, app, logs: capture.logs, waitForLog: capture.waitForLog };
}

/** Waits for a log line, failing the test after `ms` instead of hanging. */
export function withTimeout<T>(what: string, promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
