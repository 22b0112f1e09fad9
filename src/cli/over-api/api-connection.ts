// The admin API connection of the commands over it: --api, --api-ca, --token-file, --cert/--key, --context; flags > environment > context.
import { readFile } from "node:fs/promises";
import { readApiContexts, readApiEnvironment } from "../../config/index.ts";
import type { ApiConnectionSettings, ApiEnvironment } from "../../config/index.ts";
import { CliUsageError } from "../../errors.ts";
import { createMoatClient } from "../../sdk/index.ts";
import type { MoatClient } from "../../sdk/index.ts";

/** The flags every command over the API takes (never a token's value: it would land in shell history and `ps`). */
export const API_FLAGS = {
  api: { type: "string" },
  "api-ca": { type: "string" },
  "token-file": { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  context: { type: "string" },
} as const;

export interface ApiFlagValues {
  api?: string | undefined;
  "api-ca"?: string | undefined;
  "token-file"?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  context?: string | undefined;
}

/** One source of settings and how messages name each of its settings. */
interface Layer {
  settings: ApiConnectionSettings;
  names: Record<keyof ApiConnectionSettings, string>;
}

export type ApiCredential = { kind: "token-file"; file: string; from: string } | { kind: "token"; from: string } | { kind: "certificate"; cert: string; key: string; from: string };

/** Where the API is and how to prove who is asking, each setting with the source it came from. */
export interface ApiTarget {
  url: string;
  urlFrom: string;
  caFile?: { path: string; from: string };
  credential: ApiCredential;
  /** The context used, if one was. */
  context?: string;
}

const FLAG_NAMES = { api: "--api", apiCa: "--api-ca", tokenFile: "--token-file", token: "MOAT_TOKEN", cert: "--cert", key: "--key" };
const ENV_NAMES = { api: "MOAT_API", apiCa: "MOAT_API_CA", tokenFile: "MOAT_TOKEN_FILE", token: "MOAT_TOKEN", cert: "MOAT_API_CERT", key: "MOAT_API_KEY" };

/** `https://h:8444`, or `h:8444` (the API speaks only HTTPS). */
export function apiUrl(command: string, value: string, from: string): string {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliUsageError(`${command}: ${from} is not a URL (got ${JSON.stringify(value)}).`, { fix: "give the admin API's address as `moat start --api` logs it: https://127.0.0.1:8444" });
  }
  if (url.protocol !== "https:") throw new CliUsageError(`${command}: ${from} must be an https:// URL: the admin API speaks only TLS (got ${JSON.stringify(value)}).`);
  return url.href.replace(/\/$/, "");
}

/** The credentials one layer gives, if any: a token (file or value) or a certificate with its key, not both. */
function credentialOf(command: string, layer: Layer): ApiCredential | undefined {
  const { settings, names } = layer;
  const hasToken = settings.tokenFile !== undefined || settings.token !== undefined;
  const hasCertificate = settings.cert !== undefined || settings.key !== undefined;
  if (hasToken && hasCertificate) {
    throw new CliUsageError(`${command}: ${settings.tokenFile !== undefined ? names.tokenFile : names.token} and ${settings.cert !== undefined ? names.cert : names.key} are both set: give a token or an admin certificate, not both.`);
  }
  if (settings.tokenFile !== undefined && settings.token !== undefined) {
    throw new CliUsageError(`${command}: ${names.tokenFile} and ${names.token} are both set: give one.`);
  }
  if (settings.tokenFile !== undefined) return { kind: "token-file", file: settings.tokenFile, from: names.tokenFile };
  if (settings.token !== undefined) return { kind: "token", from: names.token };
  if (!hasCertificate) return undefined;
  if (settings.cert === undefined || settings.key === undefined) {
    throw new CliUsageError(`${command}: ${settings.cert === undefined ? `${names.key} is set without ${names.cert}` : `${names.cert} is set without ${names.key}`}: an admin certificate needs both.`);
  }
  return { kind: "certificate", cert: settings.cert, key: settings.key, from: `${names.cert} and ${names.key}` };
}

/**
 * Where the API is and with which credentials, each setting from the first source that gives it: the flags, then the
 * environment, then the context (--context, MOAT_CONTEXT or the file's current one). Credentials come whole from one
 * source. Undefined when no source names an API.
 */
export async function resolveApiTarget(command: string, flags: ApiFlagValues, environment: ApiEnvironment = readApiEnvironment()): Promise<ApiTarget | undefined> {
  const fromFlags: ApiConnectionSettings = {};
  if (flags.api !== undefined) fromFlags.api = flags.api;
  if (flags["api-ca"] !== undefined) fromFlags.apiCa = flags["api-ca"];
  if (flags["token-file"] !== undefined) fromFlags.tokenFile = flags["token-file"];
  if (flags.cert !== undefined) fromFlags.cert = flags.cert;
  if (flags.key !== undefined) fromFlags.key = flags.key;
  const layers: Layer[] = [
    { settings: fromFlags, names: FLAG_NAMES },
    { settings: environment.settings, names: ENV_NAMES },
  ];

  const contexts = await readApiContexts(environment.contextsFile);
  const named = flags.context ?? environment.context;
  const contextName = named ?? contexts.current;
  if (contextName !== undefined) {
    const context = contexts.contexts[contextName];
    if (context === undefined) {
      const known = Object.keys(contexts.contexts);
      const source = flags.context !== undefined ? "--context" : environment.context !== undefined ? "MOAT_CONTEXT" : `the current context of ${environment.contextsFile}`;
      throw new CliUsageError(`${command}: there is no context ${JSON.stringify(contextName)} (${source}) in ${environment.contextsFile}${known.length > 0 ? `; there are: ${known.join(", ")}` : ""}.`, {
        fix: "`moat context list` shows them; `moat context set NAME --api URL …` makes one",
      });
    }
    const name = (setting: string) => `${setting} of context ${contextName}`;
    layers.push({ settings: context, names: { api: name("api"), apiCa: name("apiCa"), tokenFile: name("tokenFile"), token: name("token"), cert: name("cert"), key: name("key") } });
  }

  const first = <K extends keyof ApiConnectionSettings>(setting: K) => {
    const layer = layers.find((candidate) => candidate.settings[setting] !== undefined);
    return layer ? { value: layer.settings[setting] as string, from: layer.names[setting] } : undefined;
  };
  const api = first("api");
  if (api === undefined) return undefined;
  let credential: ApiCredential | undefined;
  for (const layer of layers) {
    credential = credentialOf(command, layer);
    if (credential) break;
  }
  if (!credential) {
    throw new CliUsageError(`${command}: the admin API (${api.from}) needs credentials.`, {
      fix: "give a token: --token-file FILE, MOAT_TOKEN_FILE or MOAT_TOKEN (`moat token create`), or an admin certificate: --cert FILE --key FILE (`moat admin issue`)",
    });
  }
  const ca = first("apiCa");
  return {
    url: apiUrl(command, api.value, api.from),
    urlFrom: api.from,
    ...(ca ? { caFile: { path: ca.value, from: ca.from } } : {}),
    credential,
    ...(contextName !== undefined ? { context: contextName } : {}),
  };
}

async function readNamedFile(command: string, path: string, what: string, from: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new CliUsageError(`${command}: cannot read ${what} ${path} (${from}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
}

/** A client of the API the target names, with its files read (the CA bundle, the token or the certificate and key). */
export async function clientFor(command: string, target: ApiTarget, environment: ApiEnvironment = readApiEnvironment()): Promise<MoatClient> {
  const ca = target.caFile ? await readNamedFile(command, target.caFile.path, "the API's CA bundle", target.caFile.from) : undefined;
  const credential = target.credential;
  let auth: { token: string } | { cert: string; key: string };
  if (credential.kind === "certificate") {
    auth = { cert: await readNamedFile(command, credential.cert, "the admin certificate", credential.from), key: await readNamedFile(command, credential.key, "the admin certificate's key", credential.from) };
  } else {
    const token = (credential.kind === "token-file" ? await readNamedFile(command, credential.file, "the token file", credential.from) : (environment.settings.token ?? "")).trim();
    if (token === "" || /\s/.test(token)) throw new CliUsageError(`${command}: the token (${credential.from}) must be one moat_… token, as \`moat token create\` printed it.`);
    auth = { token };
  }
  return createMoatClient({ url: target.url, ...(ca !== undefined ? { ca } : {}), ...auth });
}

/**
 * Runs `use` with a client of the API the flags, environment or context name, and closes it after.
 * @example
 * await withApi("dist list", values, async (moat) => (await moat.GET("/distributions")).data);
 */
export async function withApi<T>(command: string, flags: ApiFlagValues, use: (moat: MoatClient) => Promise<T>, whenNoApi = "give --api URL (or MOAT_API, or a context: `moat context set`)"): Promise<T> {
  const environment = readApiEnvironment();
  const target = await resolveApiTarget(command, flags, environment);
  if (!target) throw new CliUsageError(`${command}: which admin API? ${whenNoApi}.`, { fix: `run \`moat ${command} --help\`` });
  const moat = await clientFor(command, target, environment);
  try {
    return await use(moat);
  } finally {
    await moat.close();
  }
}

/**
 * Whether a command with a local form (a data directory, a store) and a form over the API runs over the API, as
 * `moat store log` and `moat token` decide it: a local flag (--data-dir, --config, --store) means local; else --api or
 * --context means the API; else the local form's environment (MOAT_DATA_DIR, MOAT_STORE) means local; else the API
 * if MOAT_API or a current context names one; else local.
 * @example
 * if (await isOverApi("certs list", values, { isNamed: values["data-dir"] !== undefined, isInEnvironment: isDataDirInEnvironment() })) …
 */
export async function isOverApi(command: string, flags: ApiFlagValues, local: { isNamed: boolean; isInEnvironment: boolean }): Promise<boolean> {
  if (local.isNamed) return false;
  if (flags.api !== undefined || flags.context !== undefined) return true;
  if (local.isInEnvironment) return false;
  return (await resolveApiTarget(command, flags)) !== undefined;
}
