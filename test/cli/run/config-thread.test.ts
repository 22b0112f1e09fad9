// loadConfigInThread gives what loadConfigFile gives, the config or the very error (class, code, message, issues, fix), and a thread that crashes, exits or hangs is a ConfigThreadError, never a hang.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { loadConfigFile } from "../../../src/config/index.ts";
import { ConfigInvalidError, ConfigThreadError, ConfigUnreadableError, MoatError } from "../../../src/errors.ts";
import { loadConfigInThread } from "../../../src/cli/run/config-thread.ts";

const VALID = `dataDir: ./data\nlisten: { host: 127.0.0.1, https: 0, http: off }\ndistributions:\n  - id: site\n    aliases: [site.test]\n    origins:\n      - { id: o, url: "https://localhost:9" }\n`;

async function configDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "moat-config-thread-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The error loadConfigFile throws for `file`, in this thread. */
async function thrownHere(file: string): Promise<MoatError> {
  return loadConfigFile(file).then(
    () => assert.fail(`${file} loaded`),
    (error: MoatError) => error,
  );
}

test("a valid file: the same config as loadConfigFile, deep-frozen", async (t) => {
  const dir = await configDir(t);
  const file = join(dir, "moat.yaml");
  await writeFile(file, VALID);
  const config = await loadConfigInThread(file);
  assert.deepEqual(config, await loadConfigFile(file));
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.distributions[0]) && Object.isFrozen(config.distributions[0]?.origins[0]));
});

test("each error of a file reaches the caller as loadConfigFile throws it: class, code, message, issues, fix, source", async (t) => {
  const dir = await configDir(t);
  const cases: Array<[string, string | null, new (...args: never[]) => MoatError]> = [
    ["invalid.yaml", `${VALID}bogus: 1\nworkers: -2\n`, ConfigInvalidError],
    ["missing-file.yaml", `${VALID.replace("origins:", "viewerCertificate: { cert: ./nope.pem, key: ./nope.key }\n    origins:")}`, ConfigInvalidError],
    ["bad.yaml", "distributions: [\n", ConfigUnreadableError],
    ["bad.json", "{ nope", ConfigUnreadableError],
    ["absent.yaml", null, ConfigUnreadableError],
  ];
  for (const [name, text, Class] of cases) {
    const file = join(dir, name);
    if (text !== null) await writeFile(file, text);
    const expected = await thrownHere(file);
    assert.ok(expected instanceof Class, `${name}: loadConfigFile throws ${Class.name} (${expected.message})`);
    const error = await loadConfigInThread(file).then(
      () => assert.fail(`${name} loaded in the thread`),
      (thrown: MoatError) => thrown,
    );
    assert.ok(error instanceof Class, `${name}: a ${Class.name}`);
    assert.equal(error.constructor, Class);
    assert.equal(error.name, expected.name);
    assert.equal(error.code, expected.code);
    assert.equal(error.status, expected.status);
    assert.equal(error.message, expected.message);
    assert.equal(error.fix, expected.fix);
    assert.deepEqual((error as ConfigInvalidError).issues, (expected as ConfigInvalidError).issues);
    assert.equal((error as ConfigInvalidError).source, (expected as ConfigInvalidError).source);
    assert.equal(error.cause === undefined, expected.cause === undefined, `${name}: a cause when there was one`);
  }
});

test("a thread that crashes, exits without an answer or misses its deadline is a ConfigThreadError, and is not waited for", async (t) => {
  const dir = await configDir(t);
  const file = join(dir, "moat.yaml");
  await writeFile(file, VALID);
  const entry = (name: string) => new URL(`./config-thread-entries/${name}.ts`, import.meta.url);
  const failure = (promise: Promise<unknown>) => promise.then(() => assert.fail("loaded"), (error: ConfigThreadError) => error);

  const crashed = await failure(loadConfigInThread(file, { entry: entry("crashing") }));
  assert.ok(crashed instanceof ConfigThreadError);
  assert.equal(crashed.code, "config-thread-failed");
  assert.match(crashed.message, /the thread that validates it failed: validator bug/);

  const exited = await failure(loadConfigInThread(file, { entry: entry("exiting") }));
  assert.ok(exited instanceof ConfigThreadError);
  assert.match(exited.message, /exited \(code 3\) without an answer/);

  const started = Date.now();
  const silent = await failure(loadConfigInThread(file, { entry: entry("silent"), deadlineMs: 300 }));
  assert.ok(silent instanceof ConfigThreadError);
  assert.match(silent.message, /gave no answer within 300 ms/);
  assert.ok(Date.now() - started < 5_000, "the deadline held");
});
