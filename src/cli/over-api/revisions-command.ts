// `moat revisions` (and `moat store log` given an API): the config's revisions over the admin API, newest first.
import { CliUsageError } from "../../errors.ts";
import type { Revision } from "../../sdk/index.ts";
import { API_FLAGS, withApi } from "./api-connection.ts";
import type { ApiFlagValues } from "./api-connection.ts";
import { parseCliArgs } from "../cli-args.ts";
import { printResult } from "../table-output.ts";

/** The table `moat store log` prints too: number, time, who, what. */
export function revisionsTable(revisions: readonly Revision[]) {
  return { header: ["REVISION", "TIME", "ACTOR", "CHANGE"], rows: revisions.map((record) => [String(record.revision), record.createdAt, record.actor, record.summary]) };
}

export function parseLimit(command: string, value: string | undefined): number {
  const limit = value === undefined ? 20 : Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new CliUsageError(`${command}: --limit must be a whole number of revisions from 1 to 500 (got ${JSON.stringify(value)}).`);
  return limit;
}

export async function printApiRevisions(command: string, values: ApiFlagValues & { limit?: string | undefined; json?: boolean | undefined }): Promise<number> {
  const limit = parseLimit(command, values.limit);
  const items = await withApi(command, values, async (moat) => (await moat.GET("/revisions", { params: { query: { limit } } })).data?.items ?? []);
  printResult(values.json, items, { ...revisionsTable(items), empty: "No revision yet (nothing was applied)." });
  return 0;
}

export async function runRevisions(args: string[]): Promise<number> {
  const { values } = parseCliArgs("revisions", args, { ...API_FLAGS, limit: { type: "string", short: "n" }, json: { type: "boolean", default: false } });
  return printApiRevisions("revisions", values);
}
