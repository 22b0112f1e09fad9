// `moat start` as a real process: reload on SIGHUP and on file change, a bad file refused, SIGTERM drains a request in flight.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import type { TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import type { TestOrigin } from "../../support/test-origin.ts";
import { createViewerClient, viewerRequest } from "../../support/viewer-client.ts";

const cliMain = new URL("../../../src/cli/main.ts", import.meta.url).pathname;

/** A running `moat start`, with its log lines as they arrive. */
interface MoatProcess {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  waitFor(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

function startMoat(args: string[], env: NodeJS.ProcessEnv = {}): MoatProcess {
  const child = spawn(process.execPath, [cliMain, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<{ predicate: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  createInterface({ input: child.stdout! }).on("line", (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  return {
    child,
    lines,
    waitFor: (predicate) => {
      const found = lines.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}

describe("moat start", () => {
  let dir: string;
  let ca: CertificateAuthority;
  let key: TestMasterKey;
  let slow: TestOrigin;
  let fast: TestOrigin;
  let releaseSlow: () => void = () => {};
  const configFile = () => join(dir, "moat.yaml");

  const yaml = (target: string) => `
dataDir: ./data
listen: { host: 127.0.0.1, https: 0, http: off }
log: { level: error }
distributions:
  - id: site
    aliases: [site.test]
    origins:
      - { id: slow, url: "${slow.url}" }
      - { id: fast, url: "${fast.url}" }
    behaviors:
      - { path: /slow/*, target: slow }
      - { path: "*", target: ${target} }
`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-start-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    const gate = new Promise<void>((resolve) => (releaseSlow = resolve));
    slow = await startTestOrigin({
      certificate,
      clientCaPem: ca.bundlePem,
      handler: (_req, res) => {
        res.writeHead(200);
        res.write("slow start;");
        void gate.then(() => res.end("slow end"));
      },
    });
    fast = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem, handler: (_req, res) => res.end("fast") });
  });

  after(async () => {
    releaseSlow();
    await Promise.all([slow.close(), fast.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  test("reloads on SIGHUP and on file change, refuses a bad file, drains on SIGTERM", { timeout: 60_000 }, async () => {
    await writeFile(configFile(), yaml("slow"));
    // --log-level wins over the file's log.level (error): every info line this test waits for proves it.
    const moat = startMoat(["start", "--config", configFile(), "--log-level", "info"], key.env);
    const listening = await moat.waitFor((l) => l.msg === "edge listening");
    const port = Number(listening.httpsPort);
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "site.test" });

    // A bad file: refused, the running config stays.
    await writeFile(join(dir, "next.yaml"), "distributions:\n  - id: site\n    aliases: []\n");
    await rename(join(dir, "next.yaml"), configFile());
    const refused = await moat.waitFor((l) => l.msg === "config reload refused; keeping the running config");
    assert.match(String((refused.error as { message: string }).message), /distributions\[0\]\.aliases/);

    // A good file through a rename, the way editors save: picked up by the watcher.
    await writeFile(join(dir, "next.yaml"), yaml("fast"));
    await rename(join(dir, "next.yaml"), configFile());
    await moat.waitFor((l) => l.msg === "config reloaded" && l.why === "file changed");
    assert.equal((await viewerRequest(client, { path: "/x", host: "site.test" })).body, "fast");

    // SIGHUP reloads too.
    moat.child.kill("SIGHUP");
    await moat.waitFor((l) => l.msg === "config reloaded" && l.why === "SIGHUP");

    // SIGTERM while a response is streaming: the response completes, then the process exits 0.
    const inFlight = viewerRequest(client, { path: "/slow/y", host: "site.test" });
    await new Promise<void>((resolve) => {
      const check = () => (slow.seen.some((s) => s.url === "/slow/y") ? resolve() : setImmediate(check));
      check();
    });
    moat.child.kill("SIGTERM");
    await moat.waitFor((l) => String(l.msg).startsWith("stopping"));
    releaseSlow();
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.body, "slow start;slow end");
    await client.close();
    const [code] = (await once(moat.child, "exit")) as [number];
    assert.equal(code, 0);
    // The log destination is asynchronous: what was buffered is flushed before the drained process exits.
    const line = await moat.waitFor((l) => l.msg === "request" && l.path === "/slow/y");
    assert.equal(line.status, 200);
  });

  test("a bad config file at start is refused with its path, exit code 1", async () => {
    await writeFile(join(dir, "bad.yaml"), "distributions:\n  - id: site\n    aliases: [site.test]\n    origins:\n      - { id: a, url: http://x }\n");
    const child = spawn(process.execPath, [cliMain, "start", "--config", join(dir, "bad.yaml")], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 1);
    assert.match(stderr, /distributions\[0\]\.origins\[0\]\.url: .*https/);
    assert.doesNotMatch(stderr, /\n\s+at /, "a user error prints no stack");
  });

  test("an unknown flag is a usage error, exit code 2", async () => {
    const child = spawn(process.execPath, [cliMain, "start", "--confg", "x"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 2);
    assert.match(stderr, /--confg/);
  });

  test("--edge-name names an edge in a store: with --config it is a usage error, exit code 2", async () => {
    const child = spawn(process.execPath, [cliMain, "start", "--config", join(dir, "bad.yaml"), "--edge-name", "edge-a"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 2);
    assert.match(stderr, /--edge-name names an edge in a store/);
  });
});
