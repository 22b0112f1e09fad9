// `moat apply -f FILE --store ADDRESS` and `moat diff`: make a store match a config file in one revision, or show what that would change.
import { userInfo } from "node:os";
import { basename, dirname, resolve } from "node:path";
import { loadConfigDocument, readConfigDocument, resolveStoreAddress, withAbsolutePaths } from "../../config/index.ts";
import { CliUsageError, StoreRevisionConflictError } from "../../errors.ts";
import { changedResources, diffConfig, preferStored } from "../../store/index.ts";
import type { ConfigDiff, ConfigStore } from "../../store/index.ts";
import { API_FLAGS, isOverApi } from "../over-api/api-connection.ts";
import type { ApiFlagValues } from "../over-api/api-connection.ts";
import { parseIfMatch } from "../over-api/api-resource-input.ts";
import { parseCliArgs } from "../cli-args.ts";
import { edgeRefusals } from "./config-command.ts";
import { diffCounts, diffText } from "./config-diff-text.ts";
import { openCommandStore, STORE_FLAG } from "../store-flags.ts";

/** `moat diff`'s exit codes, as `kubectl diff`'s: 0 the store matches the file, 1 it would change, 2 the diff could not be made. */
export const DIFF_EXIT = Object.freeze({ same: 0, changes: 1, failed: 2 });

const FLAGS = { file: { type: "string", short: "f" }, json: { type: "boolean" }, ...STORE_FLAG, ...API_FLAGS } as const;

/** --store (or MOAT_STORE, when no --api or --context is given) works on the store itself; otherwise the admin API, as `moat store log` decides it. */
export async function isConfigOverApi(command: string, values: ApiFlagValues & { store?: string | undefined }): Promise<boolean> {
  return isOverApi(command, values, { isNamed: Boolean(values.store), isInEnvironment: resolveStoreAddress(undefined) !== undefined });
}

/**
 * The file as the store will hold it: checked as `moat config check` checks it (the same path-naming messages,
 * files readable, imported certificates and trust stores as the edge checks them), then its relative paths made
 * absolute against its directory. A refusal is the text config check prints.
 */
export async function documentForStore(file: string): Promise<{ document: Record<string, unknown> } | { refusals: string }> {
  const source = resolve(file);
  const raw = await readConfigDocument(source);
  const config = await loadConfigDocument(raw, { source, baseDir: dirname(source) });
  // Not the { imported: NAME } ones: the edges' data directory may be on another host.
  const { refusals } = await edgeRefusals(file, config);
  if (refusals !== null) return { refusals };
  return { document: withAbsolutePaths(raw as Record<string, unknown>, dirname(source)) };
}

/** Who runs the command, for the revision's actor; a user with no passwd entry (a container) is named by uid. */
export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? `uid ${process.getuid?.() ?? "unknown"}`;
  }
}

function fileFlag(command: string, file: string | undefined): string {
  if (file === undefined || file === "") throw new CliUsageError(`${command}: -f FILE is required (the config file).`, { fix: `run \`moat ${command} --help\`` });
  return file;
}

async function withStore<T>(command: string, flag: string | undefined, use: (store: ConfigStore) => Promise<T>): Promise<T> {
  const store = await openCommandStore(command, flag);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

function diffJson(diff: ConfigDiff, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ ...extra, storeRevision: diff.revision, changes: diff.changes, unchanged: diff.unchanged }, null, 2)}\n`;
}

export async function runDiff(args: string[]): Promise<number> {
  const { values } = parseCliArgs("diff", args, FLAGS);
  const file = fileFlag("diff", values.file);
  if (await isConfigOverApi("diff", values)) return (await import("../over-api/config-api-command.ts")).runDiffOverApi(file, values);
  const checked = await documentForStore(file);
  if ("refusals" in checked) {
    process.stderr.write(checked.refusals);
    return DIFF_EXIT.failed;
  }
  const diff = await withStore("diff", values.store, async (store) => diffConfig(await store.read(), checked.document));
  const hasChanges = diff.changes.length > 0;
  if (values.json) process.stdout.write(diffJson(diff));
  else if (!hasChanges) process.stdout.write(`No changes: the store at revision ${diff.revision} matches ${file}.\n`);
  else process.stdout.write(`${diffText(diff)}\n${diffCounts(diff)} (the store is at revision ${diff.revision}).\n`);
  return hasChanges ? DIFF_EXIT.changes : DIFF_EXIT.same;
}

export interface AppliedDocument {
  diff: ConfigDiff;
  /** The store's revision after it: a new one when `applied`, the one it already had otherwise. */
  revision: number;
  isApplied: boolean;
}

/**
 * Makes the store match a (checked, absolute-path) config document in one revision, writing exactly the diff it
 * planned: `onPlanned` is given the diff before the write (the CLI prints it), and the write is refused with
 * StoreRevisionConflictError if any other write landed in the store since the read the diff was made from.
 *
 * @example
 * const { diff, revision } = await applyDocument(store, document, { actor: "cli:alice", summary: (diff) => `apply moat.yaml: ${changedResources(diff)}`, rerun: "moat apply -f moat.yaml" });
 */
export async function applyDocument(
  store: ConfigStore,
  document: Record<string, unknown>,
  options: {
    actor: string;
    summary: (diff: ConfigDiff) => string;
    onPlanned?: (diff: ConfigDiff) => void | Promise<void>;
    /** The command that plans again, for a refusal's fix: `moat apply -f moat.yaml`. */
    rerun: string;
  },
): Promise<AppliedDocument> {
  const current = await store.read();
  const diff = diffConfig(current, document);
  // Nothing to change is no revision: export → apply leaves the store's history as it was.
  if (diff.changes.length === 0) return { diff, revision: current.revision, isApplied: false };
  await options.onPlanned?.(diff);
  // replaceAll validates the whole document again and writes it in one transaction, only if the store is still at
  // the revision the diff was made against: all of the diff or nothing.
  const committed = await store
    .replaceAll(preferStored(current, document), { actor: options.actor, summary: options.summary(diff), ifRevision: current.revision })
    .catch((error: unknown) => {
      if (!(error instanceof StoreRevisionConflictError)) throw error;
      throw new StoreRevisionConflictError(error.expected, error.actual, {
        fix: `the diff was made against revision ${error.expected} and is not what applying would do now; run \`${options.rerun}\` again: it diffs against revision ${error.actual} and shows what it would change`,
      });
    });
  return { diff, revision: committed.revision, isApplied: true };
}

export async function runApply(args: string[]): Promise<number> {
  const { values } = parseCliArgs("apply", args, { ...FLAGS, "if-match": { type: "string" } });
  const file = fileFlag("apply", values.file);
  if (await isConfigOverApi("apply", values)) return (await import("../over-api/config-api-command.ts")).runApplyOverApi(file, { ...values, "if-match": parseIfMatch("apply", values["if-match"]) });
  if (values["if-match"] !== undefined) throw new CliUsageError("apply: --if-match names the API's revision; with --store, apply already writes only if the store is still at the revision its diff was made against.");
  const checked = await documentForStore(file);
  if ("refusals" in checked) {
    process.stderr.write(checked.refusals);
    return 1;
  }
  return withStore("apply", values.store, async (store) => {
    const { diff, revision, isApplied } = await applyDocument(store, checked.document, {
      actor: `cli:${osUser()}`,
      summary: (planned) => `apply ${basename(file)}: ${changedResources(planned)}`,
      // The diff is shown before the write: what it shows is what is written, or nothing is.
      onPlanned: (planned) => void (values.json ? undefined : process.stdout.write(`${diffText(planned)}\n`)),
      rerun: `moat apply -f ${file}`,
    });
    if (values.json) process.stdout.write(diffJson(diff, { revision, applied: isApplied }));
    else if (!isApplied) process.stdout.write(`No changes: the store at revision ${revision} already matches ${file}.\n`);
    else process.stdout.write(`Applied ${file}: revision ${revision} (${diffCounts(diff, "done")}).\n`);
    return 0;
  });
}
