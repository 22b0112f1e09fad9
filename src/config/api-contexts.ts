// How the CLI reaches the admin API: its environment (MOAT_API, MOAT_API_CA, MOAT_TOKEN_FILE…) and the contexts file of named connections, like kubectl's.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { z } from "zod";
import { ConfigInvalidError, ConfigUnreadableError } from "../errors.ts";
import { closedObject } from "./closed-object.ts";
import { toConfigIssues } from "./issues.ts";

/** What one source (the flags, the environment, a context) says about the connection; each setting is optional. */
export interface ApiConnectionSettings {
  api?: string;
  apiCa?: string;
  tokenFile?: string;
  /** The token itself: only from MOAT_TOKEN (never a flag, never the contexts file). */
  token?: string;
  cert?: string;
  key?: string;
}

/** The environment's part: the settings, which context to use, and where the contexts file is. */
export interface ApiEnvironment {
  settings: ApiConnectionSettings;
  context: string | undefined;
  contextsFile: string;
}

const nonEmpty = (value: string | undefined) => (value === undefined || value === "" ? undefined : value);

/**
 * MOAT_API, MOAT_API_CA, MOAT_TOKEN_FILE, MOAT_TOKEN, MOAT_API_CERT, MOAT_API_KEY, MOAT_CONTEXT; the contexts file is
 * $MOAT_CONTEXTS, else $XDG_CONFIG_HOME/moat/contexts.yaml, else ~/.config/moat/contexts.yaml.
 */
export function readApiEnvironment(env: NodeJS.ProcessEnv = process.env): ApiEnvironment {
  const entries: [keyof ApiConnectionSettings, string][] = [
    ["api", "MOAT_API"],
    ["apiCa", "MOAT_API_CA"],
    ["tokenFile", "MOAT_TOKEN_FILE"],
    ["token", "MOAT_TOKEN"],
    ["cert", "MOAT_API_CERT"],
    ["key", "MOAT_API_KEY"],
  ];
  const settings: ApiConnectionSettings = {};
  for (const [setting, name] of entries) {
    const value = nonEmpty(env[name]);
    if (value !== undefined) settings[setting] = value;
  }
  const configHome = nonEmpty(env.XDG_CONFIG_HOME) ?? join(nonEmpty(env.HOME) ?? homedir(), ".config");
  return { settings, context: nonEmpty(env.MOAT_CONTEXT), contextsFile: nonEmpty(env.MOAT_CONTEXTS) ?? join(configHome, "moat", "contexts.yaml") };
}

const contextSchema = closedObject({
  api: z.string().min(1),
  apiCa: z.string().min(1).optional(),
  tokenFile: z.string().min(1).optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
});

const contextsSchema = closedObject({
  current: z.string().min(1).optional(),
  contexts: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: "must be a context name: letters, digits, . _ -" }), contextSchema).default({}),
});

export type ApiContext = z.output<typeof contextSchema>;
export type ApiContexts = z.output<typeof contextsSchema>;

/** The contexts file; an absent file is no contexts. Throws ConfigUnreadableError or ConfigInvalidError (each issue with its path). */
export async function readApiContexts(file: string): Promise<ApiContexts> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { contexts: {} };
    throw new ConfigUnreadableError(file, (error as Error).message);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigUnreadableError(file, `${(error as Error).message} (the contexts file of \`moat context set\`: fix its YAML, or delete it and set the contexts again)`);
  }
  const result = contextsSchema.safeParse(raw);
  if (!result.success) throw new ConfigInvalidError(file, toConfigIssues(result.error.issues));
  return result.data;
}

/** Writes the contexts file whole (mode 0600, its directory 0700): a new file renamed over the old, so it is never half-written. */
export async function writeApiContexts(file: string, contexts: ApiContexts): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, stringifyYaml(contexts), { mode: 0o600, flag: "wx" });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
