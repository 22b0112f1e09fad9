// `moat store log`: the store's revisions, newest first: number, time, who, what changed; from the store itself, or over the admin API.
import { resolveStoreAddress } from "../../config/index.ts";
import { API_FLAGS, isOverApi } from "../over-api/api-connection.ts";
import { parseCliArgs } from "../cli-args.ts";
import { parseLimit, printApiRevisions, revisionsTable } from "../over-api/revisions-command.ts";
import { openCommandStore, STORE_FLAG } from "../store-flags.ts";
import { formatTable } from "../table-output.ts";

export async function runStoreLog(args: string[]): Promise<number> {
  const { values } = parseCliArgs("store log", args, { limit: { type: "string", short: "n" }, json: { type: "boolean" }, ...STORE_FLAG, ...API_FLAGS });
  // --store, or MOAT_STORE when no API flag is given, reads the store itself; otherwise the API (--api, MOAT_API, a context).
  if (await isOverApi("store log", values, { isNamed: Boolean(values.store), isInEnvironment: resolveStoreAddress(undefined) !== undefined })) return printApiRevisions("store log", values);
  const limit = parseLimit("store log", values.limit);
  const store = await openCommandStore("store log", values.store);
  const revisions = await store.revisions(limit).finally(() => store.close());
  if (values.json) {
    process.stdout.write(`${JSON.stringify(revisions, null, 2)}\n`);
    return 0;
  }
  if (revisions.length === 0) {
    process.stdout.write(`${store.label}: no revision yet (nothing was applied).\n`);
    return 0;
  }
  const table = revisionsTable(revisions);
  process.stdout.write(formatTable(table.header, table.rows));
  return 0;
}
