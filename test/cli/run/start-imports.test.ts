// `moat start` loads only what serving needs: modules for other commands and rare paths (PKCS#12 import: node-forge; the guard sidecar; certificate import checks) and parts of packages the edge does not use (undici's index) stay unloaded, and with workers each process loads only its own part (the primary validates and issues; a worker serves), which keeps idle RSS down.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import { cliMain } from "../moat-process.ts";

const hook = new URL("../../support/loaded-modules-hook.ts", import.meta.url).pathname;
/** Packages the edge must not load at start: each is needed only by a command or an import path that runs rarely (prom-client: only with metrics on; OpenTelemetry: only with tracing on). */
const LAZY_PACKAGES = ["node-forge", "prom-client", "@opentelemetry"];
/**
 * Files of packages the edge uses in part: undici's index loads its fetch, WebSocket, mocks and caches, and through
 * globalThis.Headers Node's bundled undici too (+9–15 MB idle RSS): the edge requires its dispatchers by file.
 */
const LAZY_PACKAGE_FILES = ["undici/index.js"];
/**
 * Node's internal modules the edge must not load: its bundled undici (fetch, WebSocket; 3 MB of idle RSS in an edge),
 * which Node's ESM view of node:http loads as it reads every export (its WebSocket getter): the edge takes node:http
 * with process.getBuiltinModule.
 */
const LAZY_INTERNALS = ["internal/deps/undici/undici"];
/** Moat's own modules (under src/, no extension) the edge must not load at start: the guard is the origin's side, and the import checks run only for a config's imported certificates (this one has none). */
const LAZY_MODULES = ["observe/metrics-registry", "observe/request-tally", "observe/otel-tracer", "guard/index", "guard/guard-server", "guard/snippets/index", "pki/import/import-certificate", "pki/import/chain-trust"];
/** What a worker must not load: the config validator and its parsers (the primary validated the config), and certificate building (the primary issues; a worker reads what it stored with node:crypto). */
const PRIMARY_ONLY_PACKAGES = ["zod", "yaml", "@peculiar/x509", "tsyringe", "reflect-metadata"];
/** What the serving thread must not load, whatever the number of processes: a config file is read and validated in a thread of its own (src/cli/run/config-thread.ts), which ends once it has answered. */
const CONFIG_THREAD_ONLY_PACKAGES = ["zod", "yaml"];
/** What a primary of workers must not load: it serves nothing, so it has no viewer listener, cache or origin pool. */
const WORKER_ONLY = { packages: ["undici"], builtins: ["node:http2"], modules: ["cache/index", "edge/viewers/serve-viewers", "edge/viewers/viewer-listener"] };

const CONFIG = `dataDir: ./data\nlisten: { host: 127.0.0.1, https: 0, http: off }\ndistributions:\n  - id: site\n    aliases: [site.test]\n    origins:\n      - { id: o, url: "https://localhost:9" }\n`;

/** Starts `moat start` on `configText` with the hook, stops it once it listens, and returns each process's module URLs. */
async function loadedByStart(t: TestContext, configText: string): Promise<{ primary: string[]; workers: string[][]; threads: string[][] }> {
  const dir = await mkdtemp(join(tmpdir(), "moat-start-imports-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = await createTestMasterKey();
  await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
  const config = join(dir, "moat.yaml");
  await writeFile(config, configText);
  const loadedFile = join(dir, "loaded.txt");
  const child = spawn(process.execPath, ["--import", hook, cliMain, "start", "--config", config], {
    cwd: dir,
    env: { ...process.env, ...key.env, MOAT_LOADED_MODULES_FILE: loadedFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const exited = once(child, "exit");
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.includes('"edge listening"')) resolve();
    });
    void exited.then(() => reject(new Error(`moat start exited before it listened:\n${stderr}`)));
  });
  // A primary exits after its workers have drained and exited: every file is written by then.
  child.kill("SIGTERM");
  await exited;
  const read = async (file: string) => (await readFile(join(dir, file), "utf8")).split("\n");
  const files = await readdir(dir);
  const workerFiles = files.filter((name) => name.startsWith("loaded.txt.worker-"));
  const threadFiles = files.filter((name) => name.startsWith("loaded.txt.thread-"));
  return { primary: await read("loaded.txt"), workers: await Promise.all(workerFiles.map(read)), threads: await Promise.all(threadFiles.map(read)) };
}

const packageFiles = (loaded: string[], name: string) => loaded.filter((url) => url.includes(`/node_modules/${name}/`));
const moatModules = (loaded: string[], name: string) => loaded.filter((url) => url.includes(`/src/${name}.`));

test("moat start serves without loading node-forge, the guard, the import checks (only other commands and imported certificates need them) or undici's index", { timeout: 60_000 }, async (t) => {
  // One process (the default, auto, is one per core): it validates, issues and serves.
  const { primary: loaded, workers } = await loadedByStart(t, `workers: 1\n${CONFIG}`);
  assert.deepEqual(workers, [], "one process, no workers");
  assert.ok(loaded.some((url) => url.includes("/node_modules/undici/")), "the hook saw the edge's packages load");
  assert.ok(loaded.some((url) => url.includes("/src/edge/runtime/run-edge.")), "the hook saw the edge's own modules load");
  for (const name of LAZY_PACKAGES) assert.deepEqual(packageFiles(loaded, name), [], `${name} is not loaded at start`);
  for (const file of LAZY_PACKAGE_FILES) assert.deepEqual(loaded.filter((url) => url.includes(`/node_modules/${file}`)), [], `${file} is not loaded at start`);
  for (const name of LAZY_MODULES) assert.deepEqual(moatModules(loaded, name), [], `src/${name} is not loaded at start`);
  assert.ok(loaded.includes("internal:internal/http2/core"), "the hook saw Node's internal modules load");
  for (const name of LAZY_INTERNALS) assert.ok(!loaded.includes(`internal:${name}`), `Node's ${name} is not loaded at start`);
});

test("a single moat start validates its config file in a thread of its own: its main thread loads neither zod nor yaml", { timeout: 60_000 }, async (t) => {
  const { primary: loaded, workers, threads } = await loadedByStart(t, `workers: 1\n${CONFIG}`);
  assert.deepEqual(workers, [], "one process, no workers");
  assert.ok(loaded.some((url) => url.includes("/src/edge/runtime/run-edge.")), "the hook saw the edge's own modules load");
  for (const name of CONFIG_THREAD_ONLY_PACKAGES) assert.deepEqual(packageFiles(loaded, name), [], `the serving thread does not load ${name}`);
  // The thread ended on its own and wrote its list: it loaded them, so this test looks at the right thing.
  assert.equal(threads.length, 1, "one config thread, at start");
  for (const thread of threads) for (const name of CONFIG_THREAD_ONLY_PACKAGES) assert.notDeepEqual(packageFiles(thread, name), [], `the config thread loads ${name}`);
});

test("with workers: 2 a worker loads neither the config validator nor certificate building, and the primary neither undici, node:http2 nor the cache", { timeout: 90_000 }, async (t) => {
  const { primary, workers } = await loadedByStart(t, `workers: 2\n${CONFIG}`);
  assert.equal(workers.length, 2, "each worker wrote its list");
  // The hook saw each process do its part: the primary validated the YAML file and issued the viewer and client certificates.
  // zod and yaml validate in the primary's config thread (the first test); @peculiar/x509 issues in the primary.
  assert.notDeepEqual(packageFiles(primary, "@peculiar/x509"), [], "the primary loads @peculiar/x509");
  for (const name of CONFIG_THREAD_ONLY_PACKAGES) assert.deepEqual(packageFiles(primary, name), [], `the primary's main thread does not load ${name}`);
  for (const name of WORKER_ONLY.packages) assert.deepEqual(packageFiles(primary, name), [], `the primary does not load ${name}`);
  for (const name of WORKER_ONLY.builtins) assert.ok(!primary.includes(name), `the primary does not load ${name}`);
  for (const name of WORKER_ONLY.modules) assert.deepEqual(moatModules(primary, name), [], `the primary does not load src/${name}`);
  for (const [n, loaded] of workers.entries()) {
    assert.notDeepEqual(packageFiles(loaded, "undici"), [], `worker ${n + 1} loads undici (it proxies)`);
    assert.ok(loaded.includes("node:http2"), `worker ${n + 1} loads node:http2 (it serves h2)`);
    assert.notDeepEqual(moatModules(loaded, "cache/index"), [], `worker ${n + 1} loads the cache`);
    for (const name of PRIMARY_ONLY_PACKAGES) assert.deepEqual(packageFiles(loaded, name), [], `worker ${n + 1} does not load ${name}`);
    for (const name of LAZY_PACKAGES) assert.deepEqual(packageFiles(loaded, name), [], `worker ${n + 1} does not load ${name}`);
    for (const name of LAZY_MODULES) assert.deepEqual(moatModules(loaded, name), [], `worker ${n + 1} does not load src/${name}`);
    for (const name of LAZY_INTERNALS) assert.ok(!loaded.includes(`internal:${name}`), `worker ${n + 1} does not load Node's ${name}`);
  }
});

test("with tracing configured, the edge loads the OpenTelemetry SDK and its exporter (and still not prom-client)", { timeout: 60_000 }, async (t) => {
  // A collector on this host that is not there: the edge serves all the same, and its stop waits for the exporter no longer than its limit.
  const { primary: loaded } = await loadedByStart(t, `workers: 1\ntracing:\n  otlp: { endpoint: "http://127.0.0.1:9/v1/traces", timeout: 1s }\n${CONFIG}`);
  for (const name of ["api", "sdk-trace", "exporter-trace-otlp-http"]) assert.notDeepEqual(packageFiles(loaded, `@opentelemetry/${name}`), [], `@opentelemetry/${name} is loaded`);
  assert.notDeepEqual(moatModules(loaded, "observe/otel-tracer"), [], "src/observe/otel-tracer is loaded");
  assert.deepEqual(packageFiles(loaded, "prom-client"), []);
});
