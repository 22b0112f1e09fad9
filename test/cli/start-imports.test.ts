// `moat start` loads only what serving needs: modules for other commands and rare paths (PKCS#12 import: node-forge; the guard sidecar; certificate import checks) and parts of packages the edge does not use (undici's index) stay unloaded, which keeps idle RSS down.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { initCertificateAuthority } from "../../src/pki/index.ts";
import { createTestMasterKey } from "../support/master-key.ts";
import { cliMain } from "./moat-process.ts";

const hook = new URL("../support/loaded-modules-hook.ts", import.meta.url).pathname;
/** Packages the edge must not load at start: each is needed only by a command or an import path that runs rarely. */
const LAZY_PACKAGES = ["node-forge"];
/**
 * Files of packages the edge uses in part: undici's index loads its fetch, WebSocket, mocks and caches, and through
 * globalThis.Headers Node's bundled undici too (+9–15 MB idle RSS): the edge requires its dispatchers by file.
 */
const LAZY_PACKAGE_FILES = ["undici/index.js"];
/** Moat's own modules (under src/, no extension) the edge must not load at start: the guard is the origin's side, and the import checks run only for a config's imported certificates (this one has none). */
const LAZY_MODULES = ["guard/index", "guard/guard-server", "guard/snippets/index", "pki/import/import-certificate", "pki/import/chain-trust"];

test("moat start serves without loading node-forge, the guard, the import checks (only other commands and imported certificates need them) or undici's index", { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moat-start-imports-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = await createTestMasterKey();
  await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
  const config = join(dir, "moat.yaml");
  await writeFile(config, `dataDir: ./data\nlisten: { host: 127.0.0.1, https: 0, http: off }\ndistributions:\n  - id: site\n    aliases: [site.test]\n    origins:\n      - { id: o, url: "https://localhost:9" }\n`);
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
  child.kill("SIGTERM");
  await exited;
  const loaded = (await readFile(loadedFile, "utf8")).split("\n");
  assert.ok(loaded.some((url) => url.includes("/node_modules/undici/")), "the hook saw the edge's packages load");
  assert.ok(loaded.some((url) => url.includes("/src/edge/run-edge.")), "the hook saw the edge's own modules load");
  for (const name of LAZY_PACKAGES) assert.deepEqual(loaded.filter((url) => url.includes(`/node_modules/${name}/`)), [], `${name} is not loaded at start`);
  for (const file of LAZY_PACKAGE_FILES) assert.deepEqual(loaded.filter((url) => url.includes(`/node_modules/${file}`)), [], `${file} is not loaded at start`);
  for (const name of LAZY_MODULES) assert.deepEqual(loaded.filter((url) => url.includes(`/src/${name}.`)), [], `src/${name} is not loaded at start`);
});
