// `moat context set|use|list|delete`: named admin API connections in the contexts file (like kubectl's), so commands need no flags.
import { resolve } from "node:path";
import { readApiContexts, readApiEnvironment, writeApiContexts } from "../../config/index.ts";
import type { ApiContext } from "../../config/index.ts";
import { CliUsageError } from "../../errors.ts";
import { apiUrl } from "./api-connection.ts";
import { oneName } from "./api-resource-input.ts";
import { parseCliArgs } from "../cli-args.ts";
import { printResult } from "../table-output.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function contextName(command: string, positionals: readonly string[]): string {
  const name = oneName(command, positionals, "context name");
  if (!NAME.test(name)) throw new CliUsageError(`${command}: ${JSON.stringify(name)} is not a context name: 1-63 letters, digits, dots, underscores or hyphens.`);
  return name;
}

export async function runContextSet(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(
    "context set",
    args,
    { api: { type: "string" }, "api-ca": { type: "string" }, "token-file": { type: "string" }, cert: { type: "string" }, key: { type: "string" }, use: { type: "boolean", default: false } },
    true,
  );
  const name = contextName("context set", positionals);
  const { contextsFile } = readApiEnvironment();
  const contexts = await readApiContexts(contextsFile);
  const before = contexts.contexts[name];
  // Files are kept as absolute paths: a context is used from any directory.
  const file = (path: string | undefined) => (path === undefined ? undefined : resolve(path));
  const hasNewCredential = values["token-file"] !== undefined || values.cert !== undefined || values.key !== undefined;
  const context: Partial<ApiContext> = {
    ...before,
    ...(values.api !== undefined ? { api: apiUrl("context set", values.api, "--api") } : {}),
    ...(values["api-ca"] !== undefined ? { apiCa: file(values["api-ca"]) } : {}),
  };
  if (hasNewCredential) {
    // New credentials replace the old ones whole: a token and a certificate are never both kept.
    delete context.tokenFile;
    delete context.cert;
    delete context.key;
    if (values["token-file"] !== undefined && (values.cert !== undefined || values.key !== undefined)) throw new CliUsageError("context set: give --token-file or --cert and --key, not both.");
    if ((values.cert === undefined) !== (values.key === undefined)) throw new CliUsageError("context set: an admin certificate needs both --cert FILE and --key FILE.");
    if (values["token-file"] !== undefined) context.tokenFile = file(values["token-file"]);
    else Object.assign(context, { cert: file(values.cert), key: file(values.key) });
  }
  if (context.api === undefined) throw new CliUsageError(`context set: a new context needs --api URL (the admin API's address, as \`moat start --api\` logs it).`);
  contexts.contexts[name] = context as ApiContext;
  if (values.use || contexts.current === undefined) contexts.current = name;
  await writeApiContexts(contextsFile, contexts);
  process.stdout.write(`${before ? "Updated" : "Saved"} context ${name} in ${contextsFile}${contexts.current === name ? " (the current context)" : ""}.\n`);
  return 0;
}

export async function runContextUse(args: string[]): Promise<number> {
  const { positionals } = parseCliArgs("context use", args, {}, true);
  const name = contextName("context use", positionals);
  const { contextsFile } = readApiEnvironment();
  const contexts = await readApiContexts(contextsFile);
  if (!contexts.contexts[name]) {
    throw new CliUsageError(`context use: there is no context ${name} in ${contextsFile}.`, { fix: "`moat context list` shows them; `moat context set NAME --api URL …` makes one" });
  }
  contexts.current = name;
  await writeApiContexts(contextsFile, contexts);
  process.stdout.write(`Using context ${name}.\n`);
  return 0;
}

export async function runContextList(args: string[]): Promise<number> {
  const { values } = parseCliArgs("context list", args, { json: { type: "boolean", default: false } });
  const { contextsFile } = readApiEnvironment();
  const contexts = await readApiContexts(contextsFile);
  const entries = Object.entries(contexts.contexts);
  const credentials = (context: ApiContext) => (context.tokenFile ? `token ${context.tokenFile}` : context.cert ? `certificate ${context.cert}` : "-");
  printResult(values.json, { file: contextsFile, ...contexts }, {
    header: ["CURRENT", "NAME", "API", "CA", "CREDENTIALS"],
    rows: entries.map(([name, context]) => [name === contexts.current ? "*" : "", name, context.api, context.apiCa ?? "-", credentials(context)]),
    empty: `No contexts in ${contextsFile}: \`moat context set NAME --api URL …\` makes one.`,
  });
  return 0;
}

export async function runContextDelete(args: string[]): Promise<number> {
  const { positionals } = parseCliArgs("context delete", args, {}, true);
  const name = contextName("context delete", positionals);
  const { contextsFile } = readApiEnvironment();
  const contexts = await readApiContexts(contextsFile);
  if (!contexts.contexts[name]) throw new CliUsageError(`context delete: there is no context ${name} in ${contextsFile}.`);
  delete contexts.contexts[name];
  if (contexts.current === name) delete contexts.current;
  await writeApiContexts(contextsFile, contexts);
  process.stdout.write(`Deleted context ${name}.\n`);
  return 0;
}
