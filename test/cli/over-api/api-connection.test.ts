// Where the commands over the admin API take each setting from: flags > environment > context, credentials whole from one source; the contexts file read strictly.
import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { resolveApiTarget } from "../../../src/cli/over-api/api-connection.ts";
import { readApiContexts, readApiEnvironment, writeApiContexts } from "../../../src/config/index.ts";
import { CliUsageError, ConfigInvalidError, ConfigUnreadableError } from "../../../src/errors.ts";

async function contextsFile(t: TestContext, text?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "moat-contexts-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "moat", "contexts.yaml");
  if (text !== undefined) {
    await writeApiContexts(file, { contexts: {} });
    await writeFile(file, text);
  }
  return file;
}

const CONTEXTS = `current: prod
contexts:
  prod: { api: "https://prod.internal:8444", apiCa: /etc/prod-ca.pem, tokenFile: /etc/prod.token }
  lab: { api: "lab.internal:8444", cert: /etc/lab.pem, key: /etc/lab.key }
`;

test("the contexts file's place: MOAT_CONTEXTS, else XDG_CONFIG_HOME, else ~/.config", () => {
  assert.equal(readApiEnvironment({ MOAT_CONTEXTS: "/x/c.yaml", XDG_CONFIG_HOME: "/xdg", HOME: "/home/a" }).contextsFile, "/x/c.yaml");
  assert.equal(readApiEnvironment({ XDG_CONFIG_HOME: "/xdg", HOME: "/home/a" }).contextsFile, "/xdg/moat/contexts.yaml");
  assert.equal(readApiEnvironment({ HOME: "/home/a" }).contextsFile, "/home/a/.config/moat/contexts.yaml");
});

test("each setting from the flag, else the environment, else the context; credentials whole from the first source that has any", async (t) => {
  const file = await contextsFile(t, CONTEXTS);
  const env = (vars: NodeJS.ProcessEnv) => readApiEnvironment({ MOAT_CONTEXTS: file, ...vars });

  const fromContext = await resolveApiTarget("x", {}, env({}));
  assert.deepEqual(fromContext, {
    url: "https://prod.internal:8444",
    urlFrom: "api of context prod",
    caFile: { path: "/etc/prod-ca.pem", from: "apiCa of context prod" },
    credential: { kind: "token-file", file: "/etc/prod.token", from: "tokenFile of context prod" },
    context: "prod",
  });

  // The environment over the context, setting by setting; its token replaces the context's credentials.
  const fromEnv = await resolveApiTarget("x", {}, env({ MOAT_API: "https://env.internal:1", MOAT_TOKEN: "moat_x" }));
  assert.equal(fromEnv?.url, "https://env.internal:1");
  assert.equal(fromEnv?.caFile?.path, "/etc/prod-ca.pem", "the CA still from the context");
  assert.deepEqual(fromEnv?.credential, { kind: "token", from: "MOAT_TOKEN" });

  // Flags over the environment; MOAT_CONTEXT and --context choose the context (the flag first).
  const fromFlags = await resolveApiTarget("x", { api: "https://flag.internal:2", "token-file": "/f.token", context: "lab" }, env({ MOAT_API: "https://env.internal:1", MOAT_TOKEN_FILE: "/e.token", MOAT_CONTEXT: "prod" }));
  assert.equal(fromFlags?.url, "https://flag.internal:2");
  assert.deepEqual(fromFlags?.credential, { kind: "token-file", file: "/f.token", from: "--token-file" });
  assert.equal(fromFlags?.context, "lab");
  assert.equal(fromFlags?.caFile, undefined, "lab has no CA bundle: the system's roots, still verified");

  const lab = await resolveApiTarget("x", {}, env({ MOAT_CONTEXT: "lab" }));
  assert.equal(lab?.url, "https://lab.internal:8444", "host:port is https");
  assert.deepEqual(lab?.credential, { kind: "certificate", cert: "/etc/lab.pem", key: "/etc/lab.key", from: "cert of context lab and key of context lab" });

  // No API anywhere: undefined, for the commands that have another way (--store).
  const empty = await contextsFile(t);
  assert.equal(await resolveApiTarget("x", {}, readApiEnvironment({ MOAT_CONTEXTS: empty })), undefined);
});

test("what is refused, and named: an unknown context, both a token and a certificate, half a certificate, no credentials, http://", async (t) => {
  const file = await contextsFile(t, CONTEXTS);
  const env = (vars: NodeJS.ProcessEnv) => readApiEnvironment({ MOAT_CONTEXTS: file, ...vars });
  const refusal = async (flags: Parameters<typeof resolveApiTarget>[1], vars: NodeJS.ProcessEnv, message: RegExp) => {
    await assert.rejects(resolveApiTarget("dist list", flags, env(vars)), (error: unknown) => error instanceof CliUsageError && message.test(error.message));
  };
  await refusal({}, { MOAT_CONTEXT: "nope" }, /dist list: there is no context "nope" \(MOAT_CONTEXT\) in .*; there are: prod, lab\./);
  await refusal({ "token-file": "/t", cert: "/c", key: "/k" }, {}, /--token-file and --cert are both set: give a token or an admin certificate, not both/);
  await refusal({}, { MOAT_TOKEN_FILE: "/t", MOAT_TOKEN: "moat_x" }, /MOAT_TOKEN_FILE and MOAT_TOKEN are both set: give one/);
  await refusal({ cert: "/c" }, {}, /--cert is set without --key: an admin certificate needs both/);
  await refusal({ api: "http://plain.internal:8444" }, {}, /--api must be an https:\/\/ URL: the admin API speaks only TLS/);
  const empty = await contextsFile(t);
  await assert.rejects(resolveApiTarget("dist list", { api: "https://a:1" }, readApiEnvironment({ MOAT_CONTEXTS: empty })), /the admin API \(--api\) needs credentials/);
});

test("the contexts file: written 0600 in a 0700 directory; an unknown key or bad YAML is refused with its path", async (t) => {
  const file = await contextsFile(t);
  await writeApiContexts(file, { current: "a", contexts: { a: { api: "https://a:1", tokenFile: "/t" } } });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(join(file, ".."))).mode & 0o777, 0o700);
  assert.deepEqual(await readApiContexts(file), { current: "a", contexts: { a: { api: "https://a:1", tokenFile: "/t" } } });

  await writeFile(file, "contexts:\n  a: { api: https://a:1, token: moat_secret }\n");
  await assert.rejects(readApiContexts(file), (error: unknown) => error instanceof ConfigInvalidError && error.issues.some((issue) => issue.path === "contexts.a.token" && /unknown key/.test(issue.message)));
  await writeFile(file, "contexts: [\n");
  await assert.rejects(readApiContexts(file), ConfigUnreadableError);
});
