// `moat apply|diff|export` over the admin API: POST /config/diff, PUT /config at the revision the diff was made against (If-Match), GET /config.
import { writeFile } from "node:fs/promises";
import { dirname, extname } from "node:path";
import { readConfigDocument, withAbsolutePaths } from "../../config/index.ts";
import { CliUsageError } from "../../errors.ts";
import { ifMatch } from "../../sdk/index.ts";
import type { ConfigDiffAnswer } from "../../sdk/index.ts";
import type { ConfigDiff } from "../../store/index.ts";
import { withApi } from "./api-connection.ts";
import type { ApiFlagValues } from "./api-connection.ts";
import { diffCounts, diffText } from "../local/config-diff-text.ts";

type Flags = ApiFlagValues & { json?: boolean | undefined };

/**
 * FILE as the API will judge it: parsed (YAML, or JSON when it ends in .json) and its relative paths made absolute
 * against its directory. Not checked here: the files it names must exist on the edges' hosts, not on this one, and
 * the API answers an invalid document with every issue by its path.
 */
async function documentFor(command: string, file: string): Promise<Record<string, unknown>> {
  const raw = await readConfigDocument(file);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new CliUsageError(`${command}: ${file} must hold a config document, a mapping.`);
  return withAbsolutePaths(raw as Record<string, unknown>, dirname(file)) as Record<string, unknown>;
}

function asDiff(answer: ConfigDiffAnswer): ConfigDiff {
  return answer as unknown as ConfigDiff;
}

function diffJson(answer: { revision: number; changes: unknown; unchanged: number }, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ ...extra, storeRevision: answer.revision, changes: answer.changes, unchanged: answer.unchanged }, null, 2)}\n`;
}

export async function runDiffOverApi(file: string, values: Flags): Promise<number> {
  const document = await documentFor("diff", file);
  const { data } = await withApi("diff", values, (moat) => moat.POST("/config/diff", { body: document }));
  const diff = asDiff(data as ConfigDiffAnswer);
  const hasChanges = diff.changes.length > 0;
  if (values.json) process.stdout.write(diffJson(data as ConfigDiffAnswer));
  else if (!hasChanges) process.stdout.write(`No changes: the store at revision ${diff.revision} matches ${file}.\n`);
  else process.stdout.write(`${diffText(diff)}\n${diffCounts(diff)} (the store is at revision ${diff.revision}).\n`);
  return hasChanges ? 1 : 0;
}

/**
 * Diffs, prints the diff, then PUTs the document with If-Match: the revision the diff was made against (or --if-match):
 * if anything changed the store since, the API refuses (412) and nothing is written.
 */
export async function runApplyOverApi(file: string, values: Flags & { "if-match"?: number | undefined }): Promise<number> {
  const document = await documentFor("apply", file);
  return withApi("apply", values, async (moat) => {
    const planned = (await moat.POST("/config/diff", { body: document })).data as ConfigDiffAnswer;
    const expected = values["if-match"] ?? planned.revision;
    if (planned.changes.length === 0 && values["if-match"] === undefined) {
      if (values.json) process.stdout.write(diffJson(planned, { revision: planned.revision, applied: false }));
      else process.stdout.write(`No changes: the store at revision ${planned.revision} already matches ${file}.\n`);
      return 0;
    }
    if (!values.json && planned.changes.length > 0) process.stdout.write(`${diffText(asDiff(planned))}\n`);
    const { data } = await moat.PUT("/config", { params: { header: { "If-Match": ifMatch(expected) } }, body: document });
    const applied = data as { revision: number; applied: boolean; changes: unknown; unchanged: number };
    if (values.json) process.stdout.write(diffJson({ ...applied, revision: expected }, { revision: applied.revision, applied: applied.applied }));
    else if (!applied.applied) process.stdout.write(`No changes: the store at revision ${applied.revision} already matches ${file}.\n`);
    else process.stdout.write(`Applied ${file}: revision ${applied.revision} (${diffCounts(asDiff(applied as unknown as ConfigDiffAnswer), "done")}).\n`);
    return 0;
  });
}

export async function runExportOverApi(values: Flags & { output?: string | undefined }): Promise<number> {
  const { data, url } = await withApi("export", values, async (moat) => ({ ...(await moat.GET("/config")), url: moat.url }));
  const read = data as { revision: number; document: Record<string, unknown> };
  const isJson = values.json === true || (values.output !== undefined && extname(values.output).toLowerCase() === ".json");
  let text: string;
  if (isJson) text = `${JSON.stringify(read.document, null, 2)}\n`;
  else {
    const { stringify } = await import("yaml");
    text = `# moat export of the admin API at ${url} at revision ${read.revision}\n${stringify(read.document, { lineWidth: 0 })}`;
  }
  if (values.output === undefined) process.stdout.write(text);
  else {
    // 0600: a config names where keys and passphrase files are.
    await writeFile(values.output, text, { mode: 0o600 });
    process.stderr.write(`moat: wrote ${values.output} (revision ${read.revision})\n`);
  }
  return 0;
}
